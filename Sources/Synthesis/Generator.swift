import Foundation
import Tensor
import Models

/// Calibration-image generators: noise, real, PSAQ-ViT and SARDFQ (METHOD §2–3).
///
/// Every random draw comes from a named sub-stream of `RNG(seed:)` (`labels`, `init`, `tau`,
/// `jitter`, `priors`, `msr`, `sl`, `real`), so the same seed gives the same images bit for bit
/// on the same build, and switching a component off leaves the other draws unchanged.
public enum Synthesis {
    /// APA's blocks and weights for `model` under `options`.
    public static func apaBlocks(_ info: ModelInfo, _ options: SynthesisOptions) -> [(block: Int, weight: Float)] {
        Losses.apaBlocks(total: info.blocks.count, range: options.apaBlocks, depthWeighted: options.depthWeighted)
    }

    /// The APA targets a SARDFQ run with this seed and these options aligns the un-augmented
    /// images to: per used block its index, weight and prior (count, H, T) (T = gridH·gridW,
    /// row-major), projected onto the reachable maps for Swin (`windowPriors`). For `.real` priors
    /// the real images are drawn from `options.realImages` (and their indices returned).
    public static func priors(model: VisionModel, count: Int, seed: UInt64, options: SynthesisOptions = SynthesisOptions())
        throws -> (blocks: [(block: Int, weight: Float, prior: Tensor)], realIndices: [Int]) {
        let info = ModelInfo(model)
        let drawn = try drawnPriors(model: model, info: info, count: count, seed: seed, options: options)
        let size = (info.inputShape[1], info.inputShape[2])
        return (drawn.blocks.map { ($0.block, $0.weight, apaTarget($0.prior, block: info.blocks[$0.block], inputSize: size,
                                                                  offset: 0, flip: false, options: options)) },
                drawn.realIndices)
    }

    /// The priors as drawn (before any move or projection).
    static func drawnPriors(model: VisionModel, info: ModelInfo, count: Int, seed: UInt64, options: SynthesisOptions)
        throws -> (blocks: [(block: Int, weight: Float, prior: Tensor)], realIndices: [Int]) {
        let used = apaBlocks(info, options)
        let root = RNG(seed: seed)
        var realIdx: [Int] = []
        let ps: [Tensor]
        if options.priorKind == .real {
            let (imgs, idx) = try realSample(options, count: count, rng: root.derive("real_priors"))
            realIdx = idx
            ps = try Priors.real(model: model, info: info, blocks: used.map(\.block), images: imgs)
        } else {
            ps = Priors.random(info: info, blocks: used.map(\.block), count: count, kind: options.priorKind,
                               components: options.kAPA, rng: root.derive("priors"))
        }
        return (zip(used, ps).map { ($0.block, $0.weight, $1) }, realIdx)
    }

    /// `count` images drawn without replacement (cycling when the pool is smaller) from the pool.
    static func realSample(_ o: SynthesisOptions, count: Int, rng: RNG) throws -> (Tensor, [Int]) {
        guard let pool = o.realImages, pool.rank == 4, pool.shape[0] > 0 else {
            throw SynthesisError.invalid("real images are needed (options.realImages, (N, C, H, W)) for method 'real' and prior 'real'")
        }
        var r = rng
        let perm = r.permutation(pool.shape[0])
        let idx = (0..<count).map { perm[$0 % perm.count] }
        return (try noGrad { try pool.indexSelect(axis: 0, indices: idx).copy() }, idx)
    }

    /// PSAQ-ViT's TV target τ ~ U(2500, 3000) (for n₀ = 32×3×224×224 values), scaled to this batch by
    /// `options.tauScale` or by the rule of `options.tauScaling`, resolved for the model.
    /// - start: the N(0, 1) start (B, C, H, W)
    static func tvTarget(start x: Tensor, options o: SynthesisOptions, info: ModelInfo, root: RNG) throws -> Float {
        var trng = root.derive("tau")
        let u = trng.uniform(2500, 3000)
        if let scale = o.tauScale { return u * scale }
        let ratio = Float(x.count) / Float(32 * 3 * 224 * 224)
        switch o.tauScaling.resolved(classToken: info.classToken) {
        case .pixels: return u * ratio
        case .start: return u / 2750 * (try Losses.tvLoss(x).item)
        case .sqrtPixels, .auto: return u * ratio.squareRoot()
        }
    }

    /// Clamps every channel of the images to the normalized image of [0, 1] (`lo`, `hi` per channel)
    /// and checks them: every step's images are checked, the last one's included, so a NaN step
    /// never returns. - x: (B, C, H, W), modified in place
    static func clampToImage(_ x: Tensor, lo: [Float], hi: [Float], iteration: Int) throws {
        let c = x.shape[1], plane = x.shape[2] * x.shape[3]
        for i in 0..<(x.shape[0] * c) {
            let ch = i % c, l = lo[ch], u = hi[ch], p = x.ptr + i * plane
            for k in 0..<plane { let v = p[k]; p[k] = v < l ? l : (v > u ? u : v) }  // NaN stays NaN (reported below)
        }
        if let bad = (0..<x.count).first(where: { !x.ptr[$0].isFinite }) {
            throw SynthesisError.nonFinite(iteration: iteration, term: "images", value: x.ptr[bad])
        }
    }

    /// One optimisation step of the images: the gradient of `total`, Adam, the clamp and check,
    /// then the progress and snapshot callbacks for `iteration` (1-based).
    static func descend(_ x: Tensor, _ total: Tensor, _ opt: Adam, lo: [Float], hi: [Float], iteration: Int,
                        options o: SynthesisOptions, callbacks: SynthesisCallbacks, terms: [(String, Double)]) throws {
        x.zeroGrad()
        try total.backward()
        opt.step()
        try clampToImage(x, lo: lo, hi: hi, iteration: iteration)
        callbacks.progress?(iteration, o.iterations, terms)
        if o.snapshotEvery > 0, iteration % o.snapshotEvery == 0 { callbacks.snapshot?(iteration, x.copy()) }
    }

    /// Generates `count` calibration images for `model`.
    /// - returns: an `ImageSet` with images (count, C, H, W) in normalized space.
    public static func generate(model: VisionModel, count: Int, seed: UInt64, options o: SynthesisOptions = SynthesisOptions(),
                                callbacks: SynthesisCallbacks = SynthesisCallbacks()) throws -> ImageSet {
        guard count > 0 else { throw SynthesisError.invalid("count must be positive, got \(count)") }
        let info = ModelInfo(model)
        let (c, h, w) = (info.inputShape[0], info.inputShape[1], info.inputShape[2])
        let classes = info.numClasses
        let (mean, std) = try o.normalization(channels: c)
        let root = RNG(seed: seed)
        var draws = SynthesisDraws()
        var lrng = root.derive("labels")
        draws.labels = (0..<count).map { _ in lrng.int(classes) }
        if let given = o.labels {
            guard !given.isEmpty else { throw SynthesisError.invalid("labels must not be empty") }
            if let bad = given.first(where: { !(0..<classes).contains($0) }) {
                throw SynthesisError.invalid("label \(bad) is outside the model's classes 0…\(classes - 1)")
            }
            draws.labels = (0..<count).map { given[$0 % given.count] }
        }
        let start = now()

        switch o.method {
        case .noise:
            var r = root.derive("init")
            let x = Tensor.normal([count, c, h, w], rng: &r)
            return ImageSet(images: x, labels: draws.labels, softTargets: SoftLabels.oneHot(draws.labels, numClasses: classes),
                            mean: mean, std: std, method: o.method.rawValue, seed: seed, draws: draws, info: ["options": o.summary])
        case .real:
            let (x, idx) = try realSample(o, count: count, rng: root.derive("real"))
            draws.realIndices = idx
            if let rl = o.realLabels { draws.labels = idx.map { rl[$0] } }
            return ImageSet(images: x, labels: draws.labels, softTargets: SoftLabels.oneHot(draws.labels, numClasses: classes),
                            mean: mean, std: std, method: o.method.rawValue, seed: seed, draws: draws, info: ["options": o.summary])
        case .smi:
            return try generateSMI(model: model, count: count, seed: seed, labels: draws.labels, options: o, callbacks: callbacks)
        case .psaq, .sardfq:
            break
        }
        guard o.iterations >= 1, o.rounds >= 1 else { throw SynthesisError.invalid("iterations and rounds must be ≥ 1") }
        if let lr = o.lr, !(lr.isFinite && lr > 0) { throw SynthesisError.invalid("lr must be a positive finite number, got \(lr)") }
        if let a = o.alpha1, !(a.isFinite && a >= 0) { throw SynthesisError.invalid("alpha1 must be a finite number ≥ 0, got \(a)") }
        guard o.msrEvery >= 1 else { throw SynthesisError.invalid("msr_every must be ≥ 1, got \(o.msrEvery)") }
        let sardfq = o.method == .sardfq
        let useAPA = sardfq && o.apa, useMSR = sardfq && o.msr, useSL = sardfq && o.softLabels

        // The stages, in the order of their terms in the total (PSE, APA, SL or CE, MSR's regions,
        // TV) and of their rows in the forward batch. Each makes its draws now, fixed for the run.
        // Images start as N(0, 1) in normalized space.
        var irng = root.derive("init")
        let x = Tensor.normal([count, c, h, w], rng: &irng)
        let tau = try o.tau ?? tvTarget(start: x, options: o, info: info, root: root)
        draws.tau = tau
        var stages: [SynthesisStage] = []
        if o.method == .psaq { stages.append(PSEStage(classToken: info.classToken, prefixTokens: info.prefixTokens, weight: o.pseWeight)) }
        if useAPA { stages.append(try APAStage(model: model, info: info, count: count, seed: seed, options: o, draws: &draws)) }
        let msr = useMSR ? MSRStage(count: count, info: info, root: root, options: o, draws: &draws) : nil
        let labels = try SoftLabelStage(labels: draws.labels, classes: classes, soft: useSL, regions: msr, root: root, options: o, draws: &draws)
        stages.append(labels)
        if let msr { stages.append(msr) }
        stages.append(TVStage(tau: tau, weight: o.tvWeight))
        let capture = stages.reduce(into: Capture()) { $0.formUnion($1.capture) }

        x.requiresGrad = true
        // Only the pixels are optimized: freezing the weights skips every weight-gradient GEMM
        // (about a third of the backward). Restored when synthesis ends, even on error.
        let frozen = model.params.tensors.filter(\.requiresGrad)
        for p in frozen { p.requiresGrad = false }
        defer { for p in frozen { p.requiresGrad = true } }
        let baseLR = o.lr ?? (info.classToken ? 0.20 : 0.25)
        let opt = Adam([x], lr: baseLR, betas: o.betas, eps: o.eps)
        let perRound = Swift.max(1, o.iterations / o.rounds)
        let warmup = Int((Double(perRound) * o.warmupFraction).rounded())
        let jitterMax = o.jitter ?? [15, 30].map { Swift.max(1, Int((Float($0) * Float(h) / 224).rounded())) }
        let lo = (0..<c).map { (0 - mean[$0]) / std[$0] }, hi = (0..<c).map { (1 - mean[$0]) / std[$0] }
        var jr = root.derive("jitter")
        var lastTerms: [(String, Double)] = []

        for it in 0..<o.iterations {
            if callbacks.shouldStop?() == true { throw SynthesisError.interrupted(iteration: it) }
            let (round, lr) = Schedule.restarts(step: it, perRound: perRound, warmup: warmup, baseLR: baseLR)
            opt.lr = lr
            let lim = jitterMax[Swift.min(round, jitterMax.count - 1)]
            // One offset for both axes, as PSAQ-ViT's `torch.roll(img, shifts=(off, off))`.
            let off = jr.int(in: -lim...lim)
            let flip = o.flip ? jr.bool(0.5) : false
            draws.jitter.append((off, off)); draws.flips.append(flip)

            var xa = try x.roll(shifts: [off, off], axes: [2, 3])
            if flip { xa = try xa.flip(axes: [3]) }
            let step = SynthesisStep(iteration: it, images: x, augmented: xa, offset: off, flip: flip)
            // The forward batch: the augmented images, then each stage's rows (APA's clean view, MSR's crops).
            var parts = [xa], rows = BatchRows(total: count)
            for stage in stages {
                guard let extra = try stage.extraRows(step) else { continue }
                rows.ranges[ObjectIdentifier(stage)] = rows.total..<(rows.total + extra.shape[0])
                rows.total += extra.shape[0]
                parts.append(extra)
            }
            let batch = parts.count == 1 ? xa : try Tensor.concat(parts, axis: 0)
            let out = try model.forward(batch, capture: capture, hooks: nil)
            var terms: [(String, Tensor)] = []
            for stage in stages { terms += try stage.terms(step, out, rows) }
            for (name, t) in terms where !t.item.isFinite {
                throw SynthesisError.nonFinite(iteration: it + 1, term: name, value: t.item)
            }
            var total = terms[0].1
            for t in terms.dropFirst() { total = try total + t.1 }
            lastTerms = terms.map { ($0.0, Double($0.1.item)) } + [("total", Double(total.item))]
            try descend(x, total, opt, lo: lo, hi: hi, iteration: it + 1, options: o, callbacks: callbacks, terms: lastTerms)
        }
        x.zeroGrad()
        var infoText = ["options": o.summary, "seconds": String(format: "%.3f", now() - start)]
        infoText["final_losses"] = lastTerms.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        return ImageSet(images: x.copy(), labels: draws.labels, softTargets: labels.imageTargets, mean: mean, std: std,
                        method: o.method.rawValue, seed: seed, draws: draws, info: infoText)
    }
}
