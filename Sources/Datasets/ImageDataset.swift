import Tensor

/// A labelled set of images held in memory, already normalized.
///
/// `images` is `(N, C, H, W)` in normalized pixel space: `(pixel/255 - mean[c]) / std[c]`;
/// `mean`/`std` are kept so images can be denormalized for display. `labels[i]` is the class
/// index of image `i` into `classNames`.
public struct ImageDataset {
    public let name: String
    /// `(N, C, H, W)`, normalized.
    public let images: Tensor
    public let labels: [Int]
    public let classNames: [String]
    /// Per-channel normalization constants (length C).
    public let mean: [Float]
    public let std: [Float]

    public init(name: String, images: Tensor, labels: [Int], classNames: [String], mean: [Float], std: [Float]) throws {
        guard images.rank == 4 else {
            throw DatasetError.argument(op: "ImageDataset", message: "images must be (N, C, H, W), got \(shapeString(images.shape))")
        }
        guard labels.count == images.shape[0] else {
            throw DatasetError.argument(op: "ImageDataset", message: "\(labels.count) labels for \(images.shape[0]) images")
        }
        guard mean.count == images.shape[1], std.count == images.shape[1] else {
            throw DatasetError.argument(op: "ImageDataset", message: "mean/std have \(mean.count)/\(std.count) entries for \(images.shape[1]) channels")
        }
        if let bad = labels.first(where: { $0 < 0 || $0 >= classNames.count }) {
            throw DatasetError.argument(op: "ImageDataset", message: "label \(bad) is outside 0..<\(classNames.count)")
        }
        self.name = name
        self.images = images
        self.labels = labels
        self.classNames = classNames
        self.mean = mean
        self.std = std
    }

    /// Number of images.
    public var count: Int { labels.count }
    public var channels: Int { images.shape[1] }
    public var height: Int { images.shape[2] }
    public var width: Int { images.shape[3] }

    /// The images at `indices`, in that order (repeats allowed). Copies the pixels.
    public func subset(_ indices: [Int]) throws -> ImageDataset {
        let n = count
        if let bad = indices.first(where: { $0 < 0 || $0 >= n }) {
            throw DatasetError.argument(op: "subset", message: "index \(bad) is outside 0..<\(n)")
        }
        let out = gatherRows(images, indices)
        return try ImageDataset(name: name, images: out, labels: indices.map { labels[$0] },
                                classNames: classNames, mean: mean, std: std)
    }

    /// The first `count` images (or all if fewer).
    public func prefix(_ count: Int) throws -> ImageDataset {
        try subset(Array(0..<min(max(count, 0), self.count)))
    }

    /// A seeded random subset of `count` distinct images (e.g. real images for calibration).
    /// The same seed always picks the same images, in the same order.
    public func sample(count k: Int, seed: UInt64) throws -> ImageDataset {
        try subset(sampleIndices(total: count, count: k, seed: seed, op: "sample"))
    }

    /// Batches of up to `size` images in order, or shuffled with a seeded permutation.
    /// The last batch is smaller unless `dropLast`.
    public func batches(size: Int, shuffle seed: UInt64? = nil, dropLast: Bool = false) throws -> BatchSequence {
        BatchSequence(dataset: self, indices: try batchIndices(total: count, size: size, shuffle: seed, dropLast: dropLast))
    }

    /// Images per class, indexed by label.
    public var classCounts: [Int] {
        var c = [Int](repeating: 0, count: classNames.count)
        for l in labels { c[l] += 1 }
        return c
    }
}

/// One mini-batch: `images` `(B, C, H, W)`, their labels, and their indices in the dataset.
public struct Batch {
    public let images: Tensor
    public let labels: [Int]
    public let indices: [Int]
}

/// Lazily gathered batches of an `ImageDataset` (each batch is copied when it is reached).
public struct BatchSequence: Sequence {
    public let dataset: ImageDataset
    /// The dataset indices of each batch.
    public let indices: [[Int]]

    public var count: Int { indices.count }

    public func makeIterator() -> AnyIterator<Batch> {
        var i = 0
        return AnyIterator {
            guard i < indices.count else { return nil }
            defer { i += 1 }
            let idx = indices[i]
            return Batch(images: gatherRows(dataset.images, idx), labels: idx.map { dataset.labels[$0] }, indices: idx)
        }
    }
}

/// Splits `0..<total` (optionally shuffled by `RNG(seed:)`) into chunks of `size`.
public func batchIndices(total: Int, size: Int, shuffle seed: UInt64?, dropLast: Bool) throws -> [[Int]] {
    guard size > 0 else { throw DatasetError.argument(op: "batches", message: "batch size must be positive, got \(size)") }
    var order = Array(0..<total)
    if let seed {
        var rng = RNG(seed: seed).derive("shuffle")
        order = rng.permutation(total)
    }
    var out: [[Int]] = []
    var start = 0
    while start < total {
        let end = min(start + size, total)
        if end - start < size && dropLast { break }
        out.append(Array(order[start..<end]))
        start = end
    }
    return out
}

/// `count` distinct indices of `0..<total` chosen by a seeded permutation.
func sampleIndices(total: Int, count: Int, seed: UInt64, op: String) throws -> [Int] {
    guard count >= 0, count <= total else {
        throw DatasetError.argument(op: op, message: "cannot take \(count) distinct images from \(total)")
    }
    var rng = RNG(seed: seed).derive("sample")
    return Array(rng.permutation(total).prefix(count))
}

/// Copies rows `indices` of the first axis of `t` into a new tensor.
func gatherRows(_ t: Tensor, _ indices: [Int]) -> Tensor {
    let row = t.count / max(t.shape[0], 1)
    var shape = t.shape
    shape[0] = indices.count
    let out = Tensor(uninitialized: shape)
    let src = t.ptr, dst = out.ptr
    indices.withUnsafeBufferPointer { idx in
        Parallel.forRange(idx.count, grain: max(1, 65536 / max(row, 1))) { r in
            for i in r { (dst + i * row).update(from: src + idx[i] * row, count: row) }
        }
    }
    return out
}
