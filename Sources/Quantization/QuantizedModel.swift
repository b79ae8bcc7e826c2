import Tensor
import Models

/// A fake-quantized vision transformer: a clone of the float model (possibly with folded and
/// reconstructed weights) driven through `QuantHooks`. The float model it came from is never
/// modified. It is a `VisionModel` itself, so evaluation, attention capture and block-wise
/// forwards work unchanged.
public final class QuantizedModel: VisionModel {
    /// The clone that holds this model's weights (RepQ-folded, reconstructed).
    public let model: VisionModel
    public let hooks: QuantHooks
    public var config: QuantConfig { hooks.config }
    /// The images the quantizers were fitted on (kept for `report`).
    public private(set) var calibrationImages: Tensor?
    /// The RepQ folds applied (one per post-LayerNorm linear), in forward order.
    public internal(set) var folds: [RepQFold.Record] = []
    /// Wall-clock seconds spent calibrating (including the fold) and reconstructing.
    public internal(set) var calibrationSeconds = 0.0
    public internal(set) var reconstructionSeconds = 0.0
    /// Per-block reconstruction results, in block order.
    public internal(set) var reconstruction: [BlockReconstruction] = []
    /// Receives one plain line per step of progress (nil = silent).
    public var log: ((String) -> Void)?

    /// An uncalibrated quantized copy of `float`. Call `calibrate` (or use `quantize(…)`).
    public init(float: VisionModel, config: QuantConfig) throws {
        try config.validate()
        if float is QuantizedModel { throw QuantError.argument("the model is already quantized; pass the float model") }
        model = float.clone()
        // The clone's weights are constants unless a reconstruction step trains them.
        for t in model.params.tensors { t.requiresGrad = false }
        hooks = QuantHooks(config: config)
    }

    init(copying q: QuantizedModel) {
        model = q.model.clone()
        for t in model.params.tensors { t.requiresGrad = false }
        hooks = q.hooks.copy()
        calibrationImages = q.calibrationImages
        folds = q.folds; calibrationSeconds = q.calibrationSeconds; reconstructionSeconds = q.reconstructionSeconds
        reconstruction = q.reconstruction; log = q.log
    }

    // MARK: VisionModel

    public var architecture: Architecture { model.architecture }
    public var params: Parameters { model.params }
    public var blockNames: [String] { model.blockNames }

    public func forward(_ x: Tensor, capture: Capture, hooks outer: ForwardHooks?) throws -> ModelOutput {
        try model.forward(x, capture: capture, hooks: outer.map { ChainedHooks(hooks, $0) } ?? hooks)
    }

    public func forwardBlock(_ index: Int, _ x: Tensor, hooks outer: ForwardHooks?) throws -> Tensor {
        try model.forwardBlock(index, x, hooks: outer.map { ChainedHooks(hooks, $0) } ?? hooks)
    }

    public func clone() -> VisionModel { QuantizedModel(copying: self) }

    /// Whether quantization is applied (false: the folded float model, for checks).
    public var isEnabled: Bool {
        get { hooks.mode != .off }
        set { hooks.mode = newValue ? .quantize : .off }
    }

    // MARK: calibration

    /// Fits every quantizer on `images` (B, C, H, W), RepQ-ViT's way: one forward in which each
    /// site is fitted on the first tensor it sees (so it sees upstream quantization); then, for the
    /// repq backend, each per-channel post-LayerNorm input is folded into its LayerNorm and linear
    /// and replaced by a per-tensor quantizer, and the changed weights are fitted again with a
    /// second forward. A model is calibrated once (quantize the float model again for new images).
    public func calibrate(_ images: Tensor) throws { try calibrate(images, sites: nil, from: nil) }

    /// Calibrates like `calibrate(_:)`, except that the activation sites for which `sites` returns
    /// true are fitted on `other` images instead (a second calibrating forward on `other`, after the
    /// first on `images` has fitted every other site and passed those through in float). The RepQ
    /// fold and the weights follow as usual. For locating which quantizer group a calibration
    /// source damages: calibrate on real images and take one group from synthetic ones.
    public func calibrate(_ images: Tensor, sites: ((String) -> Bool)?, from other: Tensor?) throws {
        for (name, t) in [("calibration", images), ("other calibration", other)] {
            guard let t else { continue }
            guard t.rank == 4, t.shape[0] > 0 else {
                throw QuantError.argument("\(name) images must be (B, C, H, W) with B ≥ 1, got \(shapeString(t.shape))")
            }
        }
        guard calibrationImages == nil else { throw QuantError.argument("this model is already calibrated; quantize the float model again") }
        let t0 = now()
        hooks.mode = .calibrate
        defer { hooks.mode = .quantize; hooks.deferred = nil }
        if let sites, let other {
            hooks.deferred = { !$0.hasSuffix(".weight") && sites($0) }
            _ = try noGrad { try model.forward(images, capture: [], hooks: hooks) }
            hooks.deferred = nil
            _ = try noGrad { try model.forward(other, capture: [], hooks: hooks) }
        } else {
            _ = try noGrad { try model.forward(images, capture: [], hooks: hooks) }
        }
        if config.backend == .repq && config.reparameterize {
            try foldPostLayerNormInputs()
            // Re-fit the weights the fold changed.
            _ = try noGrad { try model.forward(images, capture: [], hooks: hooks) }
        }
        calibrationImages = images
        calibrationSeconds = now() - t0
        log?("calibrated \(hooks.quantizers.count) quantizers (\(config.label)) on \(images.shape[0]) images in \(String(format: "%.2f", calibrationSeconds)) s")
    }

    /// RepQ fold of every per-channel input quantizer (see `RepQFold`).
    func foldPostLayerNormInputs() throws {
        for site in hooks.order where site.hasSuffix(".input") {
            guard let q = hooks.quantizers[site] as? UniformQuantizer, q.granularity == .lastAxis else { continue }
            let layer = String(site.dropLast(".input".count))
            guard let norm = QuantHooks.layerNorm(feeding: layer) else { continue }
            let rec = try RepQFold.fold(model.params, norm: norm, linear: layer, scales: q.scales, zeroPoints: q.zeroPoints)
            let perTensor = try UniformQuantizer(bits: q.bits, granularity: .tensor, search: q.search)
            try perTensor.set(scales: [rec.scale], zeroPoints: [rec.zeroPoint])
            hooks.setQuantizer(perTensor, for: site)
            hooks.quantizers[layer + ".weight"]?.reset()
            folds.append(rec)
        }
        for t in model.params.tensors { t.requiresGrad = false }  // a fold may add a bias
    }
}
