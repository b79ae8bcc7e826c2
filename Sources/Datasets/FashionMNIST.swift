import Foundation
import Tensor

/// Fashion-MNIST (Xiao et al. 2017) from the Debian package `dataset-fashion-mnist`:
/// 60 000 train and 10 000 test gray 28×28 images of 10 clothing classes, gzipped IDX files.
///
/// Preprocessing (the project's embedded default): zero-pad 2 px on each side to 32×32, scale to
/// [0, 1], normalize with the train-set statistics `mean`/`std` below.
///
/// Decision on the statistics: they are the mean and (population) standard deviation of all
/// [0, 1] pixels of the *padded* 32×32 train images, so that the padded training inputs the
/// models see have mean 0 and std 1. (Unpadded 28×28 values would be 0.28604 / 0.35302.) They are
/// fixed constants, not recomputed at load time, so that a checkpoint's preprocessing never drifts;
/// `DatasetsTests` recomputes them from the installed files.
public enum FashionMNIST {
    /// Where the Debian package installs the files.
    public static let defaultRoot = "/usr/share/datasets/fashion-mnist"
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    /// Mean of the padded 32×32 train pixels in [0, 1].
    public static let mean: Float = 0.218_999_83
    /// Population standard deviation of the padded 32×32 train pixels in [0, 1].
    public static let std: Float = 0.331_811_37
    /// Zero padding on each side (28 → 32).
    public static let padding = 2
    public static let rawSize = 28
    public static var size: Int { rawSize + 2 * padding }

    public enum Split: String, CaseIterable {
        case train, test
        /// File prefix used by the IDX files (`t10k` for the test split).
        var prefix: String { self == .train ? "train" : "t10k" }
    }

    /// The raw images `(N, 28, 28)` as bytes and the labels of a split, validated.
    public static func loadRaw(split: Split, root: String = defaultRoot) throws -> (images: IDXArray, labels: [Int]) {
        let imagesPath = "\(root)/\(split.prefix)-images-idx3-ubyte.gz"
        let labelsPath = "\(root)/\(split.prefix)-labels-idx1-ubyte.gz"
        for p in [imagesPath, labelsPath] where !FileManager.default.fileExists(atPath: p) {
            throw DatasetError.missing(path: p, hint: "Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist")
        }
        let images = try IDXArray(path: imagesPath)
        let labels = try IDXArray(path: labelsPath)
        guard images.shape.count == 3, images.shape[1] == rawSize, images.shape[2] == rawSize else {
            throw DatasetError.corrupt(path: imagesPath, message: "expected images of shape (N, 28, 28), got \(images.shape)")
        }
        guard labels.shape.count == 1, labels.shape[0] == images.shape[0] else {
            throw DatasetError.corrupt(path: labelsPath, message: "expected \(images.shape[0]) labels, got dims \(labels.shape)")
        }
        if let bad = labels.data.first(where: { $0 >= 10 }) {
            throw DatasetError.corrupt(path: labelsPath, message: "label \(bad) is outside 0..<10")
        }
        return (images, labels.data.map(Int.init))
    }

    /// A split as a normalized `ImageDataset` with images `(N, 1, 32, 32)`.
    public static func load(split: Split, root: String = defaultRoot) throws -> ImageDataset {
        let (raw, labels) = try loadRaw(split: split, root: root)
        let n = raw.shape[0], s = size, r = rawSize, p = padding
        let out = Tensor(uninitialized: [n, 1, s, s])
        let background = -mean / std  // a padded (zero) pixel after normalization
        let dst = out.ptr
        raw.data.withUnsafeBufferPointer { src in
            Parallel.forRange(n, grain: 256) { range in
                for i in range {
                    let img = dst + i * s * s
                    img.initialize(repeating: background, count: s * s)
                    for y in 0..<r {
                        let row = img + (y + p) * s + p
                        let srow = src.baseAddress! + i * r * r + y * r
                        // (v/255 - mean)/std computed in the same order as torchvision's ToTensor + Normalize.
                        for x in 0..<r { row[x] = (Float(srow[x]) / 255 - mean) / std }
                    }
                }
            }
        }
        return try ImageDataset(name: "fashion-mnist/\(split.rawValue)", images: out, labels: labels,
                                classNames: classNames, mean: [mean], std: [std])
    }
}
