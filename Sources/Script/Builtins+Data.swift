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
    /// Top-1/top-5 of `classify` on the first `limit` images (a folder: `limit` images spread over
    /// its classes), decoding a folder batch by batch so a 50 000-image split never sits in memory.
    /// Progress shows images per second (decoding and the model together).
    public func accuracy(_ classify: (Tensor) throws -> Tensor, limit: Int?) throws -> (top1: Double, top5: Double?) {
        let start = ProcessInfo.processInfo.systemUptime
        func rate(_ done: Int) -> [(String, Double)] {
            [("img/s", Double(done) / Swift.max(1e-9, ProcessInfo.processInfo.systemUptime - start))]
        }
        if let loaded {
            let total = Swift.min(limit ?? loaded.count, loaded.count), batch = 256
            let progress = Progress(total: total, label: "accuracy")
            defer { progress.finish() }
            let a = try Evaluation.accuracy(of: classify, on: loaded, batchSize: batch, limit: limit) { b, _ in
                let done = Swift.min(total, b * batch)
                progress.update(done, terms: rate(done))
            }
            return (a.top1, a.top5)
        }
        let f = try limit.map { try folder!.strided($0) } ?? folder!
        var c1 = 0.0, c5 = 0.0, n = 0
        var top5 = true
        let progress = Progress(total: f.count, label: "accuracy")
        defer { progress.finish() }
        try f.forEachBatch(size: 64) { batch in
            let a = try Evaluation.accuracy(of: classify, on: batch)
            c1 += a.top1 * Double(a.count) / 100
            if let t5 = a.top5 { c5 += t5 * Double(a.count) / 100 } else { top5 = false }
            n += a.count
            progress.update(n, terms: rate(n))
        }
        let d = Double(max(n, 1))
        return (100 * c1 / d, top5 ? 100 * c5 / d : nil)
    }
    /// The first `perClass` images of each class in `classes` (all classes when nil), in class
    /// order, as a new dataset. A folder decodes only those images.
    public func byClass(_ perClass: Int, classes: [Int]?) throws -> DatasetObject {
        let labels = loaded?.labels ?? folder!.samples.map(\.label)
        let wanted = classes ?? Array(0..<classNames.count)
        var taken: [Int: [Int]] = [:]
        for (i, l) in labels.enumerated() where (taken[l]?.count ?? 0) < perClass { taken[l, default: []].append(i) }
        let idx = wanted.flatMap { taken[$0] ?? [] }
        guard !idx.isEmpty else { throw ScriptError("\(name) has no images of classes \(wanted)") }
        if let loaded { return DatasetObject(name: "\(name) by class", dataset: try loaded.subset(idx)) }
        return DatasetObject(name: "\(name) by class", dataset: try folder!.load(idx))
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
    /// The folder of a split: ImageNet's layout `root/train/<class>` and `root/val/<class>` (or
    /// `root/test`) when `root` has a `train` or `val` folder, otherwise `root` itself for both.
    static func folderSplit(_ root: String, split: String) throws -> String {
        let fm = FileManager.default
        func isDir(_ p: String) -> Bool { var d: ObjCBool = false; return fm.fileExists(atPath: p, isDirectory: &d) && d.boolValue }
        guard isDir(root + "/train") || isDir(root + "/val") else { return root }
        let names = split == "train" ? ["train"] : ["val", "test"]
        guard let sub = names.first(where: { isDir(root + "/" + $0) }) else {
            throw ScriptError("\(root): split '\(split)' needs a folder \(names.map { "\(root)/\($0)" }.joined(separator: " or ")) (the folder has train/val sub-folders)")
        }
        return root + "/" + sub
    }

    static func installData() {
        register(area: "data", [
            Builtin(name: "dataset", summary: "Fashion-MNIST (\"fashion-mnist\") or an ImageNet-layout folder (root/class/*.JPEG|png).",
                    help: """
                    Fashion-MNIST comes from the Debian package dataset-fashion-mnist: 28×28 images zero-padded to 32×32, one \
                    channel, normalized with the training set's mean and std. A folder uses timm's eval preprocessing for `model` \
                    (resize the short side to size/crop_pct with Pillow's bicubic, center crop, normalize); without `model` \
                    ImageNet's 224 / 0.875 settings. A folder with `train` and `val` (or `test`) sub-folders is split by \
                    them; otherwise both splits are the folder itself. `limit` keeps the first images of Fashion-MNIST, and \
                    `limit` images spread evenly over a folder's classes. A folder is decoded batch by batch when evaluated.
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
                let root = try folderSplit(name, split: try a.string("split"))
                var folder = try ImageFolder(root: root, transform: transform)
                // A folder is sorted by class: `limit` spreads its images over the classes.
                if let limit { folder = try folder.strided(limit) }
                return .object(DatasetObject(name: root, folder: folder))
            },
            Builtin(name: "per_class", summary: "The first `count` images of each class (or of the listed `classes`), in class order.",
                    help: "A balanced real set, e.g. for Figure 1(a) on ImageNet: a folder decodes only the chosen images. A class with fewer images gives what it has.",
                    example: "let d = dataset(\"fashion-mnist\", split: \"test\", limit: 200)\nlet s = per_class(d, 3, classes: [2, 0])\nprint(s.count, s.labels)\n# expect: 6 [2, 2, 2, 0, 0, 0]",
                    params: [Param("data", .object("dataset")), Param("count", .integer(1...100_000_000), help: "images per class"),
                             Param("classes", .optional(.list), default: .nothing, help: "class indices (default all)")]) { a in
                let d = try a.object("data", as: DatasetObject.self)
                let classes = a.isNone("classes") ? nil : try a.ints("classes")
                if let bad = classes?.first(where: { !(0..<d.classNames.count).contains($0) }) {
                    throw a.bad("classes", "classes 0…\(d.classNames.count - 1) expected, got \(bad)")
                }
                do { return .object(try d.byClass(try a.int("count"), classes: classes)) } catch let e as ScriptError { throw a.bad("classes", e.message) }
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
