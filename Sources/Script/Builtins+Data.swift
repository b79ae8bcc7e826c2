import Foundation
import Tensor
import Datasets
import Models

/// A labelled image dataset in the language. Fashion-MNIST splits are held in memory; an
/// ImageNet-layout folder decodes images when they are first needed.
public final class DatasetObject: ScriptObject {
    public let name: String
    private var loaded: ImageDataset?
    private let folder: ImageFolder?
    public init(name: String, dataset: ImageDataset) { self.name = name; loaded = dataset; folder = nil }
    public init(name: String, folder: ImageFolder) { self.name = name; loaded = nil; self.folder = folder }

    public var count: Int { loaded?.count ?? folder!.count }
    public var classNames: [String] { loaded?.classNames ?? folder!.classNames }
    /// All images decoded (a folder is decoded once, then kept).
    public func materialized() throws -> ImageDataset {
        if let loaded { return loaded }
        let d = try folder!.loadAll()
        loaded = d
        return d
    }
    /// A seeded random subset of `k` images, as a new dataset.
    public func sample(_ k: Int, seed: UInt64) throws -> DatasetObject {
        if let loaded { return DatasetObject(name: "\(name) sample", dataset: try loaded.sample(count: k, seed: seed)) }
        return DatasetObject(name: "\(name) sample", dataset: try folder!.sampleImages(count: k, seed: seed))
    }
    public var typeName: String { "dataset" }
    public var memberNames: [String] { ["name", "count", "classes", "images", "labels", "mean", "std"] }
    public func member(_ n: String) throws -> Value? {
        switch n {
        case "name": return .string(name)
        case "count": return .int(count)
        case "classes": return .list(classNames.map { .string($0) })
        case "images": return .tensor(try materialized().images)
        case "labels": return .list(try materialized().labels.map { .int($0) })
        case "mean": return .list(try materialized().mean.map { .number(Double($0)) })
        case "std": return .list(try materialized().std.map { .number(Double($0)) })
        default: return nil
        }
    }
    public var description: String { "dataset \(name): \(count) images, \(classNames.count) classes" }
}

extension Builtins {
    static func installData() {
        register(area: "data", [
            Builtin(name: "dataset", summary: "Fashion-MNIST (\"fashion-mnist\") or an ImageNet-layout folder (root/class/*.JPEG|png).",
                    help: """
                    Fashion-MNIST comes from the Debian package dataset-fashion-mnist: 28×28 images zero-padded to 32×32, one \
                    channel, normalized with the training set's mean and std. A folder uses timm's eval preprocessing for `model` \
                    (resize the short side to size/crop_pct with Pillow's bicubic, center crop, normalize); without `model` \
                    ImageNet's 224 / 0.875 settings. `limit` keeps the first images only.
                    """,
                    example: "let d = dataset(\"fashion-mnist\", split: \"test\", limit: 10)\nprint(d.count, d.images.shape)\n# expect: 10 [10, 1, 32, 32]",
                    params: [Param("name", .string, help: "\"fashion-mnist\" or a folder path"),
                             Param("split", .choice(["train", "test"]), default: .string("test")),
                             Param("model", .optional(.object("model")), default: .nothing, help: "whose preprocessing a folder uses"),
                             Param("limit", .optional(.integer(1...100_000_000)), default: .nothing)]) { a in
                let name = try a.string("name")
                let limit = a.isNone("limit") ? nil : try a.int("limit")
                if name == "fashion-mnist" {
                    let split: FashionMNIST.Split = try a.string("split") == "train" ? .train : .test
                    var d = try FashionMNIST.load(split: split)
                    if let limit { d = try d.prefix(limit) }
                    return .object(DatasetObject(name: "fashion-mnist \(split.rawValue)", dataset: d))
                }
                var transform = EvalTransform.imagenet224
                if !a.isNone("model"), let p = try a.object("model", as: ModelObject.self).preprocessing, p.inputSize.count == 3 {
                    transform = try EvalTransform(size: p.inputSize[1], cropPct: p.cropPct, mean: p.mean, std: p.std)
                }
                let folder = try ImageFolder(root: name, transform: transform)
                let obj = DatasetObject(name: name, folder: folder)
                if let limit { return .object(DatasetObject(name: name, dataset: try folder.load(Array(0..<min(limit, folder.count))))) }
                return .object(obj)
            },
            Builtin(name: "sample", summary: "A seeded random subset of a dataset (e.g. 32 real calibration images).",
                    example: "let d = dataset(\"fashion-mnist\", split: \"test\", limit: 100)\nlet s = sample(d, 8, seed: 3)\nprint(s.count, sample(d, 8, seed: 3).labels == s.labels)\n# expect: 8 true",
                    params: [Param("data", .object("dataset")), Param("count", .integer(1...100_000_000)),
                             Param("seed", .integer(0...Int(Int32.max)), default: .int(0))]) { a in
                let seed = UInt64(try a.int("seed"))
                a.interpreter.context.recordSeed("sample", seed)
                return .object(try a.object("data", as: DatasetObject.self).sample(try a.int("count"), seed: seed))
            },
        ])
    }
}
