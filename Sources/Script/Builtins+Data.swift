import Foundation
import Tensor
import Datasets
import Models

extension Builtins {
    static func installData() { register(area: "data", DataArea.builtins) }

    /// The data area's builtins.
    enum DataArea {
        /// The table: one line per builtin naming its spec and function (below, in this order).
        static var builtins: [Builtin] { [
            Builtin("dataset", datasetSpec, dataset),
            Builtin("per_class", perClassSpec, perClass),
            Builtin("sample", sampleSpec, sample),
        ] }

        static var datasetSpec: BuiltinSpec {
            BuiltinSpec(summary: "Fashion-MNIST (\"fashion-mnist\") or an ImageNet-layout folder (root/class/*.JPEG|png).",
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
                                 Param("limit", .optional(.integer(1...100_000_000)), default: .nothing)])
        }
        static func dataset(_ a: Args) throws -> Value {
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
        }

        static var perClassSpec: BuiltinSpec {
            BuiltinSpec(summary: "The first `count` images of each class (or of the listed `classes`), in class order.",
                        help: "A balanced real set, e.g. for Figure 1(a) on ImageNet: a folder decodes only the chosen images. A class with fewer images gives what it has.",
                        example: "let d = dataset(\"fashion-mnist\", split: \"test\", limit: 200)\nlet s = per_class(d, 3, classes: [2, 0])\nprint(s.count, s.labels)\n# expect: 6 [2, 2, 2, 0, 0, 0]",
                        params: [Param("data", .object("dataset")), Param("count", .integer(1...100_000_000), help: "images per class"),
                                 Param("classes", .optional(.list), default: .nothing, help: "class indices (default all)")])
        }
        static func perClass(_ a: Args) throws -> Value {
            let d = try a.object("data", as: DatasetObject.self)
            let classes = a.isNone("classes") ? nil : try a.ints("classes")
            if let bad = classes?.first(where: { !(0..<d.classNames.count).contains($0) }) {
                throw a.bad("classes", "classes 0…\(d.classNames.count - 1) expected, got \(bad)")
            }
            do { return .object(try d.byClass(try a.int("count"), classes: classes)) } catch let e as ScriptError { throw a.bad("classes", e.message) }
        }

        static var sampleSpec: BuiltinSpec {
            BuiltinSpec(summary: "A seeded random subset of a dataset (e.g. 32 real calibration images).",
                        example: "let d = dataset(\"fashion-mnist\", split: \"test\", limit: 100)\nlet s = sample(d, 8, seed: 3)\nprint(s.count, sample(d, 8, seed: 3).labels == s.labels)\n# expect: 8 true",
                        params: [Param("data", .object("dataset")), Param("count", .integer(1...100_000_000)),
                                 Param("seed", .integer(0...Int(Int32.max)), default: .int(0))])
        }
        static func sample(_ a: Args) throws -> Value {
            let seed = UInt64(try a.int("seed"))
            a.interpreter.context.recordSeed("sample", seed)
            return .object(try a.object("data", as: DatasetObject.self).sample(try a.int("count"), seed: seed))
        }
    }

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

}
