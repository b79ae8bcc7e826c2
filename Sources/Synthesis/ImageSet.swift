import Foundation
import Tensor

/// Every random draw of one synthesis run, so a run can be inspected and replayed.
public struct SynthesisDraws {
    /// The label of each image.
    public var labels: [Int] = []
    /// τ of the TV term (PSAQ-ViT, SARDFQ).
    public var tau: Float? = nil
    /// Roll offsets (dy, dx) of every iteration.
    public var jitter: [(Int, Int)] = []
    /// Whether each iteration flipped the batch horizontally.
    public var flips: [Bool] = []
    /// APA priors per used block: (block, (B, H, T)).
    public var priors: [(block: Int, prior: Tensor)] = []
    /// MSR regions of all images (`box.image` names the image).
    public var regions: [Region] = []
    /// SL logits Z of the whole images (B, classes) and of the regions (R, classes).
    public var imageZ: Tensor? = nil
    public var regionZ: Tensor? = nil
    /// Indices into the real image pool (method `.real`, or real priors).
    public var realIndices: [Int] = []
    /// SMI: the patches each image kept after the last pruning step (row-major grid indices, sorted).
    public var keptPatches: [[Int]] = []
    public init() {}
}

/// A calibration image set: normalized pixels with labels, soft targets and the record of draws.
public final class ImageSet {
    /// (B, C, H, W) in the model's normalized space.
    public let images: Tensor
    public let labels: [Int]
    /// (B, classes): softmax(Z) with SL, else one-hot.
    public let softTargets: Tensor
    public let mean: [Float], std: [Float]
    public let method: String
    public let seed: UInt64
    public let draws: SynthesisDraws
    /// Free-form facts: options summary, final loss terms, timings.
    public var info: [String: String]

    public init(images: Tensor, labels: [Int], softTargets: Tensor, mean: [Float], std: [Float], method: String, seed: UInt64,
                draws: SynthesisDraws, info: [String: String] = [:]) {
        self.images = images; self.labels = labels; self.softTargets = softTargets
        self.mean = mean; self.std = std; self.method = method; self.seed = seed; self.draws = draws; self.info = info
    }

    public var count: Int { images.shape[0] }

    /// Pixels back in [0, 1]: x·std + mean per channel, clamped. - returns (B, C, H, W)
    public func denormalized() -> Tensor {
        let c = images.shape[1], plane = images.shape[2] * images.shape[3]
        let out = Tensor(uninitialized: images.shape)
        for i in 0..<(images.shape[0] * c) {
            let ch = i % c, m = mean[ch], s = std[ch]
            let src = images.ptr + i * plane, dst = out.ptr + i * plane
            for k in 0..<plane { dst[k] = Swift.min(1, Swift.max(0, src[k] * s + m)) }
        }
        return out
    }

    // MARK: - safetensors

    static let format = "sardfq-imageset-v1"

    /// The set as named tensors and metadata (what `save` writes).
    public func encoded() throws -> (tensors: [(String, Tensor)], metadata: [String: String]) {
        func floats(_ xs: [Int]) -> Tensor { Tensor(xs.map(Float.init)) }
        var t: [(String, Tensor)] = [("images", images), ("labels", floats(labels)), ("soft_targets", softTargets)]
        if let tau = draws.tau { t.append(("draws.tau", Tensor([tau]))) }
        if !draws.jitter.isEmpty {
            t.append(("draws.jitter", try Tensor(shape: [draws.jitter.count, 2], draws.jitter.flatMap { [Float($0.0), Float($0.1)] })))
            t.append(("draws.flips", Tensor(draws.flips.map { $0 ? 1 : 0 })))
        }
        for p in draws.priors { t.append(("draws.prior.\(p.block)", p.prior)) }
        if !draws.regions.isEmpty {
            let rows = draws.regions.flatMap { r in [r.box.image, r.box.y, r.box.x, r.box.h, r.box.w, r.label].map(Float.init) }
            t.append(("draws.regions", try Tensor(shape: [draws.regions.count, 6], rows)))
        }
        if let z = draws.imageZ { t.append(("draws.image_z", z)) }
        if let z = draws.regionZ { t.append(("draws.region_z", z)) }
        if !draws.realIndices.isEmpty { t.append(("draws.real_indices", floats(draws.realIndices))) }
        if let k = draws.keptPatches.first?.count, k > 0 {
            t.append(("draws.kept_patches", try Tensor(shape: [draws.keptPatches.count, k], draws.keptPatches.flatMap { $0.map(Float.init) })))
        }
        var meta = info
        meta["format"] = ImageSet.format
        meta["method"] = method
        meta["seed"] = String(seed)
        meta["mean"] = mean.map { "\($0)" }.joined(separator: ",")
        meta["std"] = std.map { "\($0)" }.joined(separator: ",")
        return (t, meta)
    }

    public func save(path: String) throws {
        let (t, m) = try encoded()
        try Safetensors.write(path: path, tensors: t, metadata: m)
    }

    public func data() throws -> Data {
        let (t, m) = try encoded()
        return try Safetensors.encode(tensors: t, metadata: m)
    }

    public static func load(path: String) throws -> ImageSet { try decode(Safetensors.read(path: path), file: path) }

    public static func load(data: Data, file: String = "<memory>") throws -> ImageSet {
        try decode(Safetensors.decode(data, file: file), file: file)
    }
}
