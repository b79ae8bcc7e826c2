import Tensor

/// Which family of quantizers a quantized model uses.
public enum Backend: String, Sendable, CaseIterable, Codable {
    /// RepQ-ViT style (the default, shared by every calibration source): percentile/MSE uniform
    /// quantizers, weights per output row, post-LayerNorm inputs per channel folded to per tensor
    /// by scale reparameterization, log√2 attention probabilities.
    case repq
    /// PSAQ-ViT's min-max backend: symmetric per-row weights (Δ = 2·max|w|/(2^b − 1)),
    /// asymmetric per-tensor min-max activations, softmax output not quantized, no fold.
    case minmax
}

/// Block reconstruction settings (METHOD §4): Adam, cosine decay to 0, straight-through rounding,
/// only linear weights and biases train.
public struct ReconstructionConfig: Sendable, Equatable, Codable {
    public var iterations: Int = 100
    public var lr: Float = 4e-5
    /// Images per step; nil = all calibration images every step.
    public var batchSize: Int? = nil
    /// Seed of the mini-batch order (used only when `batchSize` is smaller than the set).
    public var seed: UInt64 = 0
    public init(iterations: Int = 100, lr: Float = 4e-5, batchSize: Int? = nil, seed: UInt64 = 0) {
        self.iterations = iterations; self.lr = lr; self.batchSize = batchSize; self.seed = seed
    }
}

/// Everything that defines a quantized model besides the float weights and calibration images.
public struct QuantConfig: Sendable, Equatable, Codable {
    public var weightBits: Int
    public var activationBits: Int
    public var backend: Backend = .repq
    /// Bits of the patch-embedding input (RepQ-ViT keeps it at 8).
    public var patchEmbedInputBits: Int = 8
    /// Quantizer of the attention probabilities (repq backend).
    public var attention: LogQuantizer.Variant = .sqrt2
    /// Percentile set of the range search (RepQ-ViT's).
    public var percentiles: [Double] = [0.999, 0.9999, 0.99999]
    /// RepQ scale reparameterization of post-LayerNorm inputs (repq backend). When false those
    /// inputs are plain per-tensor quantizers.
    public var reparameterize: Bool = true
    /// Whether the fold also covers Swin's patch-merging LayerNorm → reduction (RepQ-ViT folds it;
    /// I&S-ViT quantizes that input per tensor without a fold). Only with `reparameterize`.
    public var foldPatchMerging: Bool = true
    /// The range of valid model inputs (the normalized image of pixel values [0, 1], over all
    /// channels). When set, the patch-embedding input quantizer takes exactly this range instead of
    /// searching one on the calibration images (which need not reach the pixel extremes that real
    /// images have, e.g. Fashion-MNIST's all-zero background). nil: searched, as RepQ-ViT.
    public var inputRange: ClosedRange<Float>? = nil
    /// Block reconstruction after calibration; nil = none.
    public var reconstruction: ReconstructionConfig? = nil

    public init(weightBits: Int, activationBits: Int, backend: Backend = .repq, reconstruction: ReconstructionConfig? = nil) {
        self.weightBits = weightBits; self.activationBits = activationBits
        self.backend = backend; self.reconstruction = reconstruction
    }

    /// Checks bit widths and options; errors name the argument.
    public func validate() throws {
        try checkBits(weightBits, "w: weight")
        try checkBits(activationBits, "a: activation")
        try checkBits(patchEmbedInputBits, "patch-embedding input")
        guard !percentiles.isEmpty, percentiles.allSatisfy({ $0 > 0.5 && $0 <= 1 }) else {
            throw QuantError.argument("percentiles must be in (0.5, 1], got \(percentiles)")
        }
        if let r = reconstruction {
            guard r.iterations >= 0 else { throw QuantError.argument("reconstruction iterations must be ≥ 0, got \(r.iterations)") }
            guard r.lr >= 0, r.lr.isFinite else { throw QuantError.argument("reconstruction lr must be ≥ 0, got \(r.lr)") }
            if let b = r.batchSize, b < 1 { throw QuantError.argument("reconstruction batch size must be ≥ 1, got \(b)") }
        }
    }

    /// `W4A4 repq`, `W8A8 minmax + rec`.
    public var label: String {
        "W\(weightBits)A\(activationBits) \(backend.rawValue)" + (reconstruction != nil ? " + rec" : "")
    }
}
