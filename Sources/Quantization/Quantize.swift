import Tensor
import Models
import Datasets

// The quantization backend (METHOD §4), in RepQ-ViT's spirit. Decisions where the sources are silent:
// - Calibration is one forward over all calibration images in which each site is fitted on the
//   first tensor it sees, downstream of already-quantized sites (RepQ-ViT's order); for the repq
//   backend a second forward re-fits the weights the RepQ fold changed.
// - After the fold the per-tensor zero point z̃ = mean(z) stays fractional, as in RepQ-ViT's code.
// - A zero-width clipping range is widened to include 0 (a constant c maps exactly to itself).
// - Straight-through gradients are masked to the quantization range (zero for clamped values and
//   for attention probabilities sent to the log quantizer's zero level); scales never train.
// - The log√2 level round(−2·log2(x/Δ)) is computed exactly from the float's exponent and
//   mantissa (no libm call); it equals the formula except exactly at irrational ties.
// - SULQ (shift-uniform-log2, I&S-ViT): η from I&S-ViT's list by MSE; the dequantized exponent is
//   not rounded again (the paper's formula).
// - The minmax backend (PSAQ-ViT) quantizes the same sites as repq except the attention
//   probabilities; its patch-embedding input is 8-bit min-max too; no fold. Running min-max over one
//   calibration batch is the batch's min-max.
// - Reconstruction uses every calibration image at every step unless `batchSize` is set; the input
//   of block i+1 is the reconstructed block i's output on the quantized input; the head and the
//   patch embedding are not reconstructed.

/// Quantizes a float model: clones it, calibrates the quantizers on `calib` (RepQ-ViT's
/// pipeline for the repq backend, including the scale reparameterization), and optionally runs
/// block reconstruction on the same images. The float model is not modified.
/// - calib: calibration images (B, C, H, W) in the model's normalized input space.
/// - Returns: the quantized model; `calibrationSeconds` / `reconstructionSeconds` time the two steps.
/// - swap: activation sites (by predicate on the site key) fitted on other images instead
///   (`QuantizedModel.calibrate(_:sites:from:)`); reconstruction still uses `calib`.
public func quantize(_ model: VisionModel, config: QuantConfig, calib: Tensor, swap: (sites: (String) -> Bool, images: Tensor)? = nil,
                     log: ((String) -> Void)? = nil) throws -> QuantizedModel {
    let expected = model.architecture.inputShape
    for (name, t) in [("calib", calib), ("swap_calib", swap?.images)] {
        guard let t else { continue }
        guard t.rank == 4, Array(t.shape.dropFirst()) == expected else {
            throw QuantError.images(argument: name, message: "expected images (B, \(expected.map(String.init).joined(separator: ", "))), got \(shapeString(t.shape))")
        }
    }
    let q = try QuantizedModel(float: model, config: config)
    q.log = log
    try q.calibrate(calib, sites: swap?.sites, from: swap?.images)
    if let rc = config.reconstruction {
        try q.reconstruct(reference: model, images: calib, config: rc)
    }
    return q
}

/// `quantize(model, w: 4, a: 4, calib: images)`: the common call with default options.
/// - backend: `.repq` (default) or PSAQ-ViT's `.minmax`.
/// - reconstruct: run block reconstruction with the default settings (100 iterations, lr 4e-5).
public func quantize(_ model: VisionModel, w: Int, a: Int, calib: Tensor, backend: Backend = .repq,
                     reconstruct: Bool = false, log: ((String) -> Void)? = nil) throws -> QuantizedModel {
    let config = QuantConfig(weightBits: w, activationBits: a, backend: backend,
                             reconstruction: reconstruct ? ReconstructionConfig() : nil)
    return try quantize(model, config: config, calib: calib, log: log)
}

/// Calibration sources that need no generator.
public enum CalibrationSource {
    /// `count` images of N(0, 1) noise in normalized space, shape (count, C, H, W), seeded.
    public static func gaussian(count: Int, shape: [Int], seed: UInt64) throws -> Tensor {
        guard count > 0, shape.count == 3, shape.allSatisfy({ $0 > 0 }) else {
            throw QuantError.argument("gaussian calibration: need count ≥ 1 and an image shape (C, H, W), got count \(count), shape \(shape)")
        }
        var rng = RNG(seed: seed).derive("calibration.gaussian")
        return Tensor.normal([count] + shape, mean: 0, std: 1, rng: &rng)
    }

    /// Gaussian noise shaped for `model`'s input.
    public static func gaussian(count: Int, for model: VisionModel, seed: UInt64) throws -> Tensor {
        try gaussian(count: count, shape: model.architecture.inputShape, seed: seed)
    }

    /// `count` real images drawn without replacement from `dataset` (normally the training split).
    public static func real(_ dataset: ImageDataset, count: Int, seed: UInt64) throws -> Tensor {
        guard count > 0, count <= dataset.count else {
            throw QuantError.argument("real calibration: count must be 1…\(dataset.count) (the size of '\(dataset.name)'), got \(count)")
        }
        return try dataset.sample(count: count, seed: seed).images
    }
}
