import Foundation
import Tensor

/// An ImageNet-layout folder `root/<class>/…/*.{JPEG,jpg,jpeg,png}`, like torchvision's
/// `ImageFolder`: classes are the sub-folder names sorted by name (label = position), files are
/// found recursively and sorted by path; other extensions are ignored (case-insensitive match).
///
/// Images are decoded lazily: `load`, `sample` and `forEachBatch` decode and preprocess only the
/// images they return (in parallel), with timm's eval transform, so a 50 000-image validation set
/// never has to fit in memory.
public struct ImageFolder {
    public let root: String
    public let classNames: [String]
    /// Every image file with its label, sorted by class then path.
    public let samples: [(path: String, label: Int)]
    public var transform: EvalTransform

    public static let extensions: Set<String> = ["jpeg", "jpg", "png"]

    /// Scans `root`. Fails if it is missing, has no class folders, or a class has no image.
    public init(root: String, transform: EvalTransform = .imagenet224) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError.missing(path: root, hint: "expected an ImageNet-layout folder root/<class>/<image>.JPEG")
        }
        let entries = try fm.contentsOfDirectory(atPath: root).filter { !$0.hasPrefix(".") }.sorted()
        let classes = entries.filter { name in
            var d: ObjCBool = false
            return fm.fileExists(atPath: root + "/" + name, isDirectory: &d) && d.boolValue
        }
        guard !classes.isEmpty else {
            throw DatasetError.corrupt(path: root, message: "no class folders found (expected root/<class>/<image>)")
        }
        var samples: [(path: String, label: Int)] = []
        for (label, cls) in classes.enumerated() {
            let dir = root + "/" + cls
            var files: [String] = []
            if let e = fm.enumerator(atPath: dir) {
                for case let rel as String in e {
                    let ext = (rel as NSString).pathExtension.lowercased()
                    if ImageFolder.extensions.contains(ext) { files.append(dir + "/" + rel) }
                }
            }
            guard !files.isEmpty else {
                throw DatasetError.corrupt(path: dir, message: "class folder \"\(cls)\" has no .JPEG/.jpg/.png file")
            }
            samples += files.sorted().map { ($0, label) }
        }
        self.root = root
        self.classNames = classes
        self.samples = samples
        self.transform = transform
    }

    private init(root: String, classNames: [String], samples: [(path: String, label: Int)], transform: EvalTransform) {
        self.root = root; self.classNames = classNames; self.samples = samples; self.transform = transform
    }

    /// The same folder restricted to the samples at `indices` (in that order), still decoded lazily.
    public func subset(_ indices: [Int]) throws -> ImageFolder {
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw DatasetError.argument(op: "ImageFolder.subset", message: "index \(bad) is outside 0..<\(count)")
        }
        return ImageFolder(root: root, classNames: classNames, samples: indices.map { samples[$0] }, transform: transform)
    }

    /// `k` images spread evenly over the folder (indices ⌊i·count/k⌋): samples are sorted by class,
    /// so the first `k` would all be one class; this keeps every class represented.
    public func strided(_ k: Int) throws -> ImageFolder {
        let n = min(k, count)
        return try subset((0..<n).map { $0 * count / n })
    }

    /// Number of images.
    public var count: Int { samples.count }
    public var labels: [Int] { samples.map(\.label) }

    /// Decodes and preprocesses the images at `indices` (in that order) into an `ImageDataset`
    /// with images `(B, 3, size, size)`. Decoding runs in parallel; the first failure is reported
    /// with the file name.
    public func load(_ indices: [Int]) throws -> ImageDataset {
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            throw DatasetError.argument(op: "ImageFolder.load", message: "index \(bad) is outside 0..<\(count)")
        }
        let s = transform.size, per = 3 * s * s
        let out = Tensor(uninitialized: [indices.count, 3, s, s])
        var errors = [Error?](repeating: nil, count: indices.count)
        let dst = out.ptr
        let tf = transform
        errors.withUnsafeMutableBufferPointer { errs in
            Parallel.forEach(indices.count) { i in
                let path = samples[indices[i]].path
                do {
                    let img = try RGBImage.decode(path: path)
                    try tf.apply(img, into: dst + i * per)
                } catch let e as DatasetError {
                    // Decode errors name the file already; transform errors (a resize over the bound) do not.
                    if case .argument = e { errs[i] = DatasetError.corrupt(path: path, message: e.description) } else { errs[i] = e }
                } catch {
                    errs[i] = error
                }
            }
        }
        if let e = errors.compactMap({ $0 }).first { throw e }
        return try ImageDataset(name: "imagefolder:\(root)", images: out, labels: indices.map { samples[$0].label },
                                classNames: classNames, mean: transform.mean, std: transform.std)
    }

    /// A seeded random subset of `count` distinct images, decoded (e.g. real calibration images).
    public func sample(count k: Int, seed: UInt64) throws -> ImageDataset {
        try load(sampleIndices(total: count, count: k, seed: seed, op: "ImageFolder.sample"))
    }

    /// Every image, decoded (only for small folders).
    public func loadAll() throws -> ImageDataset { try load(Array(0..<count)) }

    /// Calls `body` with each batch of up to `size` decoded images, in order or seeded-shuffled.
    /// The next batch is decoded (on the worker pool) while `body` works on this one, so an
    /// evaluation does not wait for JPEG decoding between batches.
    public func forEachBatch(size: Int, shuffle seed: UInt64? = nil, _ body: (ImageDataset) throws -> Void) throws {
        let batches = try batchIndices(total: count, size: size, shuffle: seed, dropLast: false)
        final class Slot: @unchecked Sendable { var result: Result<ImageDataset, Error>? }
        func decode(_ i: Int) -> (DispatchGroup, Slot) {
            let group = DispatchGroup(), slot = Slot(), folder = self, idx = batches[i]
            DispatchQueue.global().async(group: group) { slot.result = Result { try folder.load(idx) } }
            return (group, slot)
        }
        var next = batches.isEmpty ? nil : decode(0)
        for i in batches.indices {
            let (group, slot) = next!
            group.wait()
            next = i + 1 < batches.count ? decode(i + 1) : nil
            do { try body(try slot.result!.get()) } catch {
                next?.0.wait()  // no decode outlives the call
                throw error
            }
        }
    }
}
