import Tensor

/// Anything that hands out labelled, preprocessed images by index: an in-memory `ImageDataset`
/// (Fashion-MNIST) or a lazily decoded `ImageFolder` (ImageNet layout). Calibration code takes
/// an `ImageSource` so that "real images" work the same for both.
public protocol ImageSource {
    /// Number of images.
    var count: Int { get }
    var classNames: [String] { get }
    /// The images at `indices`, in that order, as an `ImageDataset` `(B, C, H, W)`.
    func load(_ indices: [Int]) throws -> ImageDataset
}

extension ImageSource {
    /// A seeded random subset of `count` distinct images (real-image calibration sets).
    /// The same seed picks the same images in the same order for every source kind.
    public func sampleImages(count k: Int, seed: UInt64) throws -> ImageDataset {
        try load(sampleIndices(total: count, count: k, seed: seed, op: "sample"))
    }
}

extension ImageDataset: ImageSource {
    public func load(_ indices: [Int]) throws -> ImageDataset { try subset(indices) }
}

extension ImageFolder: ImageSource {}
