import Foundation
import Tensor
import Models

/// What a quantizer site quantizes.
public enum SiteRole: String, Sendable {
    case weight, input, operand
}

/// The `ForwardHooks` of a quantized model: one quantizer per site, created on first sight from
/// the `QuantConfig`. Site keys are `<layer>.weight`, `<layer>.input` (timm module paths, e.g.
/// `blocks.3.attn.qkv.input`) and the attention operands `<block>.attn.q|k|v|attn`.
///
/// Modes: `.off` passes everything through (the float model); `.calibrate` fits every quantizer
/// that is not yet calibrated on the first tensor it sees, then quantizes with it (RepQ-ViT's
/// sequential calibration: downstream sites see upstream quantization); `.quantize` applies the
/// frozen quantizers and fails on an uncalibrated site.
public final class QuantHooks: ForwardHooks {
    public enum Mode: String, Sendable { case off, calibrate, quantize }

    public let config: QuantConfig
    public var mode: Mode = .quantize
    /// Switches for ablations (e.g. weights only).
    public var quantizeWeights = true
    public var quantizeActivations = true
    public private(set) var quantizers: [String: Quantizer] = [:]
    /// Sites in the order the forward first reached them (report order).
    public private(set) var order: [String] = []
    /// Sites deliberately left in float by the backend (minmax: attention probabilities).
    public private(set) var floatSites: Set<String> = []

    /// Error statistics per site, collected while `measuring` is on (for `QuantizedModel.report`).
    public struct ErrorStats: Sendable {
        public var sumSquaredError: Double = 0
        public var sumSquares: Double = 0
        public var count: Int = 0
        public var mse: Double { count > 0 ? sumSquaredError / Double(count) : 0 }
        /// ‖x̂ − x‖ / ‖x‖.
        public var relativeError: Double { sumSquares > 0 ? (sumSquaredError / sumSquares).squareRoot() : 0 }
    }
    public var measuring = false
    public private(set) var stats: [String: ErrorStats] = [:]
    /// While calibrating, sites for which this returns true are passed through in float and left
    /// uncalibrated, so that a later calibrating forward on other images fits them
    /// (`QuantizedModel.calibrate(_:sites:from:)`).
    public var deferred: ((String) -> Bool)?
    /// Fake quantization in float, or integer products for the layers and attention products that allow them
    /// (QuantHooks+Integer.swift). Setting it drops the integer weights made so far.
    public var execution: Execution = .fake { didSet { integerLock.lock(); integerCache = [:]; integerLock.unlock() } }
    var integerCache: [String: IntegerWeights?] = [:]
    let integerLock = NSLock()

    public init(config: QuantConfig) { self.config = config }

    /// A deep copy (quantizers copied).
    public func copy() -> QuantHooks {
        let h = QuantHooks(config: config)
        h.mode = mode; h.quantizeWeights = quantizeWeights; h.quantizeActivations = quantizeActivations
        h.quantizers = quantizers.mapValues { $0.copy() }
        h.order = order; h.floatSites = floatSites; h.execution = execution
        return h
    }

    // MARK: ForwardHooks

    public func input(_ layer: String, _ x: Tensor) throws -> Tensor {
        try apply(layer + ".input", x, role: .input, enabled: quantizeActivations)
    }
    public func weight(_ layer: String, _ w: Tensor) throws -> Tensor {
        try apply(layer + ".weight", w, role: .weight, enabled: quantizeWeights)
    }
    public func operand(_ site: String, _ x: Tensor) throws -> Tensor {
        try apply(site, x, role: .operand, enabled: quantizeActivations)
    }

    func apply(_ site: String, _ x: Tensor, role: SiteRole, enabled: Bool) throws -> Tensor {
        if mode == .off || !enabled || floatSites.contains(site) { return x }
        var q = quantizers[site]
        if q == nil {
            guard mode == .calibrate else { throw QuantError.notCalibrated(site: site) }
            guard let made = try makeQuantizer(site, role: role) else { floatSites.insert(site); order.append(site); return x }
            quantizers[site] = made; order.append(site); q = made
        }
        let quant = q!
        if !quant.isCalibrated {
            guard mode == .calibrate else { throw QuantError.notCalibrated(site: site) }
            if let deferred, deferred(site) { return x }
            try noGrad { try quant.calibrate(x.detach(), site: site) }
        }
        let y = try quant.fakeQuant(x)
        if measuring {
            var s = stats[site] ?? ErrorStats()
            var e = 0.0, m = 0.0
            let a = x.ptr, b = y.ptr
            for i in 0..<x.count { let d = Double(b[i] - a[i]); e += d * d; m += Double(a[i]) * Double(a[i]) }
            s.sumSquaredError += e; s.sumSquares += m; s.count += x.count
            stats[site] = s
        }
        return y
    }

    public func resetStats() { stats = [:] }

    /// Sets (or replaces) the quantizer of a site, e.g. the per-tensor quantizer after a RepQ fold.
    public func setQuantizer(_ q: Quantizer, for site: String) {
        if quantizers[site] == nil && !order.contains(site) { order.append(site) }
        quantizers[site] = q
    }

    // MARK: which quantizer where

    /// Inputs that follow a LayerNorm directly (RepQ-ViT calibrates them per channel and folds).
    public static func isPostLayerNorm(_ layer: String) -> Bool {
        layer.hasSuffix("attn.qkv") || layer.hasSuffix("mlp.fc1") || layer.hasSuffix("downsample.reduction")
    }

    /// The LayerNorm that feeds a post-LayerNorm linear (`blocks.3.mlp.fc1` → `blocks.3.norm2`).
    public static func layerNorm(feeding layer: String) -> String? {
        for (suffix, norm) in [("attn.qkv", "norm1"), ("mlp.fc1", "norm2"), ("downsample.reduction", "downsample.norm")] where layer.hasSuffix(suffix) {
            return String(layer.dropLast(suffix.count)) + norm
        }
        return nil
    }

    func makeQuantizer(_ site: String, role: SiteRole) throws -> Quantizer? {
        let c = config
        let search: RangeSearch = .percentileMSE(c.percentiles)
        switch (c.backend, role) {
        case (.repq, .weight):
            return try UniformQuantizer(bits: c.weightBits, granularity: .rows, search: search)
        case (.minmax, .weight):
            return try UniformQuantizer(bits: c.weightBits, granularity: .rows, search: .symmetricMinMax)
        case (_, .input):
            let layer = String(site.dropLast(".input".count))
            let bits = layer == "patch_embed.proj" ? c.patchEmbedInputBits : c.activationBits
            if c.backend == .minmax { return try UniformQuantizer(bits: bits, granularity: .tensor, search: .minMax) }
            if layer == "patch_embed.proj", let r = c.inputRange, r.upperBound > r.lowerBound {
                // The input domain is known: quantize it, not the calibration images' part of it.
                let q = try UniformQuantizer(bits: bits, granularity: .tensor, search: search)
                let scale = (r.upperBound - r.lowerBound) / Float((1 << bits) - 1)
                try q.set(scales: [scale], zeroPoints: [(-r.lowerBound / scale).rounded()])
                return q
            }
            let perChannel = c.reparameterize && QuantHooks.isPostLayerNorm(layer)
                && (c.foldPatchMerging || !layer.hasSuffix("downsample.reduction"))
            return try UniformQuantizer(bits: bits, granularity: perChannel ? .lastAxis : .tensor, search: search)
        case (_, .operand):
            if site.hasSuffix(".attn") {
                if c.backend == .minmax { return nil }  // PSAQ-ViT leaves the softmax output in float
                return try LogQuantizer(bits: c.activationBits, variant: c.attention, percentiles: c.percentiles)
            }
            return try UniformQuantizer(bits: c.activationBits, granularity: .tensor, search: c.backend == .minmax ? .minMax : search)
        }
    }
}

/// Runs two hook sets in turn (the quantizer first, then e.g. a recorder).
final class ChainedHooks: ForwardHooks {
    let first: ForwardHooks, second: ForwardHooks
    init(_ a: ForwardHooks, _ b: ForwardHooks) { first = a; second = b }
    func input(_ layer: String, _ x: Tensor) throws -> Tensor { try second.input(layer, first.input(layer, x)) }
    func weight(_ layer: String, _ w: Tensor) throws -> Tensor { try second.weight(layer, first.weight(layer, w)) }
    func operand(_ site: String, _ x: Tensor) throws -> Tensor { try second.operand(site, first.operand(site, x)) }
}
