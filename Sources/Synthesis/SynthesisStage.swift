import Tensor
import Models

/// One iteration as the stages see it.
struct SynthesisStep {
    /// 0-based iteration.
    let iteration: Int
    /// The images being optimised, (B, C, H, W) in normalized space.
    let images: Tensor
    /// The images rolled by `offset` on both axes and flipped when `flip`: the batch's first B rows.
    let augmented: Tensor
    let offset: Int
    let flip: Bool
    var count: Int { images.shape[0] }
}

/// Where each stage's rows are in one iteration's forward batch: rows 0..<B are the augmented
/// images, then each stage that added rows, in stage order.
struct BatchRows {
    var ranges: [ObjectIdentifier: Range<Int>] = [:]
    /// Rows of the whole batch.
    var total: Int
    subscript(_ stage: AnyObject) -> Range<Int>? { ranges[ObjectIdentifier(stage)] }
}

/// One part of the synthesis objective, under its paper name: PSE (PSAQ-ViT's patch-similarity
/// entropy), APA, MSR, SL (or plain CE) and TV. A stage makes its random draws once, when it is
/// built; each iteration it may add rows to the forward batch, and it turns the forward output
/// into its loss terms. `Synthesis.generate` composes them; an ablation is a choice of stages.
protocol SynthesisStage: AnyObject {
    /// What the forward pass must record for this stage.
    var capture: Capture { get }
    /// Rows this stage adds to the forward batch at `step`, (n, C, H, W); nil adds none.
    func extraRows(_ step: SynthesisStep) throws -> Tensor?
    /// The stage's named loss terms (scalars) from the forward output of the batch laid out as `rows`.
    func terms(_ step: SynthesisStep, _ out: ModelOutput, _ rows: BatchRows) throws -> [(String, Tensor)]
}

extension SynthesisStage {
    var capture: Capture { [] }

    /// `term` scaled by its weight; a weight of 1 leaves the graph as it is (no multiply node, so
    /// the default objective's images stay bit-identical).
    func weighted(_ term: Tensor, _ weight: Float) -> Tensor { weight == 1 ? term : term * weight }
    func extraRows(_ step: SynthesisStep) throws -> Tensor? { nil }
}

/// PSAQ-ViT's patch-similarity entropy (METHOD §2), on the augmented images' attention outputs.
final class PSEStage: SynthesisStage {
    let classToken: Bool, prefixTokens: Int, weight: Float
    init(classToken: Bool, prefixTokens: Int, weight: Float) { self.classToken = classToken; self.prefixTokens = prefixTokens; self.weight = weight }
    var capture: Capture { [.attentionOutput] }
    func terms(_ step: SynthesisStep, _ out: ModelOutput, _ rows: BatchRows) throws -> [(String, Tensor)] {
        let pse = try Losses.psaqEntropy(out.attentionOutput, batch: step.count, dropClassToken: classToken, prefixTokens: prefixTokens)
        return [("pse", weighted(pse, weight))]
    }
}

/// Attention Priors Alignment (METHOD §3): one random structure prior per (image, block, head),
/// drawn once; the loss pulls the attention maps of the latter blocks toward them. With the clean
/// view (the default) the un-augmented images are extra rows of the batch, so the priors stay in
/// image coordinates; the other views read the augmented rows and move the priors along (`moved`)
/// or not (`fixed`).
final class APAStage: SynthesisStage {
    let info: ModelInfo
    let used: [(block: Int, weight: Float, prior: Tensor)]
    let view: APAView
    let alpha1: Float
    let inputSize: (h: Int, w: Int)
    let options: SynthesisOptions
    /// The targets when they do not follow the augmentation: made once.
    let fixedTargets: [Tensor]?

    init(model: VisionModel, info: ModelInfo, count: Int, seed: UInt64, options o: SynthesisOptions, draws: inout SynthesisDraws) throws {
        let p = try Synthesis.drawnPriors(model: model, info: info, count: count, seed: seed, options: o)
        used = p.blocks
        draws.realIndices = p.realIndices
        draws.priors = used.map { ($0.block, $0.prior) }
        self.info = info
        view = o.apaView
        alpha1 = o.effectiveAlpha1(classToken: info.classToken)
        inputSize = (info.inputShape[1], info.inputShape[2])
        options = o
        let size = inputSize
        fixedTargets = o.apaView == .moved ? nil : used.map {
            Synthesis.apaTarget($0.prior, block: info.blocks[$0.block], inputSize: size, offset: 0, flip: false, options: o)
        }
    }

    var capture: Capture { [.attention] }

    func extraRows(_ step: SynthesisStep) throws -> Tensor? { view == .clean ? step.images : nil }

    func terms(_ step: SynthesisStep, _ out: ModelOutput, _ rows: BatchRows) throws -> [(String, Tensor)] {
        let first = rows[self]?.lowerBound ?? 0
        let maps = try used.map {
            try info.attentionMap(block: $0.block, probs: out.attention[$0.block], batch: step.count, first: first)
        }
        let targets = fixedTargets ?? used.map {
            Synthesis.apaTarget($0.prior, block: info.blocks[$0.block], inputSize: inputSize, offset: step.offset, flip: step.flip, options: options)
        }
        return [("apa", try Losses.apaLoss(maps: maps, priors: targets, weights: used.map(\.weight)) * alpha1)]
    }
}

/// Multi-Semantic Reinforcement (METHOD §3): up to K_MSR regions per image, each with its own
/// class, drawn once; every `every`-th iteration their crops (resized to the input size, flipped
/// with the images) are extra rows of the batch, with a cross-entropy to the regions' targets (a
/// mean of its own, or pooled with the whole images' term by `SoftLabelStage`).
final class MSRStage: SynthesisStage {
    let boxes: [PixelBox]
    let labels: [Int]
    let every: Int
    let outputSize: (h: Int, w: Int)
    let pooled: Bool
    let ceWeight: Float
    /// The regions' targets: soft labels or one-hot, set by `SoftLabelStage` (which draws both).
    var targets: Tensor?
    var termName = "ce_regions"

    init(count: Int, info: ModelInfo, root: RNG, options o: SynthesisOptions, draws: inout SynthesisDraws) {
        let (h, w) = (info.inputShape[1], info.inputShape[2])
        var mr = root.derive("msr")
        for i in 0..<count {
            draws.regions += MSR.layout(image: i, height: h, width: w, maxRegions: o.kMSR, classes: info.numClasses, rng: &mr)
        }
        boxes = draws.regions.map(\.box)
        labels = draws.regions.map(\.label)
        every = o.msrEvery
        outputSize = (h, w)
        pooled = o.regionWeighting == .pooled
        ceWeight = o.ceWeight
    }

    func extraRows(_ step: SynthesisStep) throws -> Tensor? {
        guard !boxes.isEmpty, step.iteration % every == 0 else { return nil }
        // [decision] The regions move with the jitter: cropping the un-rolled image at the
        // original box is the same content (also when the roll wraps); the flip applies to the crop.
        let crops = try step.images.cropResize(boxes: boxes, outH: outputSize.h, outW: outputSize.w)
        return step.flip ? try crops.flip(axes: [3]) : crops
    }

    func terms(_ step: SynthesisStep, _ out: ModelOutput, _ rows: BatchRows) throws -> [(String, Tensor)] {
        guard !pooled, let r = rows[self], let targets else { return [] }
        let ce = try Tensor.softCrossEntropy(try out.logits.slice(axis: 0, start: r.lowerBound), targets: targets)
        return [(termName, weighted(ce, ceWeight))]
    }
}

/// Soft-Label Learning (METHOD §3), or one-hot CE when SL is off: the whole images' targets (the
/// own class plus the classes of its MSR regions, as soft labels with random logits) and the
/// regions' targets, drawn once; the term is the cross-entropy of the augmented images (pooled with
/// the crops when MSR says so).
final class SoftLabelStage: SynthesisStage {
    let imageTargets: Tensor
    let name: String
    let ceWeight: Float
    let regions: MSRStage?
    let pooledTargets: Tensor?

    init(labels: [Int], classes: Int, soft: Bool, regions: MSRStage?, root: RNG, options o: SynthesisOptions, draws: inout SynthesisDraws) throws {
        let regionLabels = regions?.labels ?? []
        let regionTargets: Tensor?
        if soft {
            var sr = root.derive("sl")
            var imageSets: [[Int]] = labels.map { [$0] }
            for r in draws.regions { imageSets[r.box.image].append(r.label) }
            let shift = o.softLabelScale == .matched ? SoftLabels.matchedShift(numClasses: classes) : 0
            let zi = SoftLabels.logits(imageSets, numClasses: classes, shift: shift, rng: &sr)
            let zr = SoftLabels.logits(regionLabels.map { [$0] }, numClasses: classes, shift: shift, rng: &sr)
            draws.imageZ = zi; draws.regionZ = regionLabels.isEmpty ? nil : zr
            imageTargets = try SoftLabels.targets(zi)
            regionTargets = regionLabels.isEmpty ? nil : try SoftLabels.targets(zr)
        } else {
            imageTargets = SoftLabels.oneHot(labels, numClasses: classes)
            regionTargets = regionLabels.isEmpty ? nil : SoftLabels.oneHot(regionLabels, numClasses: classes)
        }
        let images = imageTargets
        pooledTargets = try regionTargets.map { try Tensor.concat([images, $0], axis: 0) }
        name = soft ? "sl" : "ce"
        ceWeight = o.ceWeight
        self.regions = regions
        regions?.targets = regionTargets
        regions?.termName = name + "_regions"
    }

    func terms(_ step: SynthesisStep, _ out: ModelOutput, _ rows: BatchRows) throws -> [(String, Tensor)] {
        // The cross-entropy sees the augmented images (and pooled crops), never APA's clean rows.
        let whole = rows.total > step.count ? try out.logits.slice(axis: 0, start: 0, end: step.count) : out.logits
        let ce: Tensor
        if let msr = regions, msr.pooled, let r = rows[msr], let pooledTargets {
            let logits = try Tensor.concat([whole, try out.logits.slice(axis: 0, start: r.lowerBound)], axis: 0)
            ce = try Tensor.softCrossEntropy(logits, targets: pooledTargets)
        } else {
            ce = try Tensor.softCrossEntropy(whole, targets: imageTargets)
        }
        return [(name, weighted(ce, ceWeight))]
    }
}

/// PSAQ-ViT's total-variation term weight·|TV(x_aug) − τ| (METHOD §2), τ drawn once.
final class TVStage: SynthesisStage {
    let tau: Float, weight: Float
    init(tau: Float, weight: Float) { self.tau = tau; self.weight = weight }
    func terms(_ step: SynthesisStep, _ out: ModelOutput, _ rows: BatchRows) throws -> [(String, Tensor)] {
        [("tv", try Losses.tvTerm(step.augmented, tau: tau, weight: weight))]
    }
}
