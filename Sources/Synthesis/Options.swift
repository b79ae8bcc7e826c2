import Tensor
import Models

/// Where calibration images come from.
public enum SynthesisMethod: String, CaseIterable, Codable {
    /// N(0, 1) in normalized pixel space (the "Gaussian noise" baseline, as PSAQ-ViT's).
    case noise
    /// Real images drawn (seeded) from `SynthesisOptions.realImages`.
    case real
    /// PSAQ-ViT: patch-similarity entropy + CE + TV (METHOD §2).
    case psaq
    /// SARDFQ: α1·APA + SL (or CE) + TV, with MSR crops (METHOD §3).
    case sardfq
    /// Sparse Model Inversion (Hu et al., ICML 2024): CE + TV-L2 inversion whose later passes run
    /// on the patches the class token attends to most (ViT/DeiT only).
    case smi
}

/// Sparse Model Inversion's settings (its data-free quantization configuration: Egg-Hu/SMI's
/// `test_quant.py` and README).
public struct SMIOptions {
    /// Iterations (0-based, counted from the start) at which the patches are ranked and the lowest
    /// dropped. [decision] Absolute, not scaled with the iteration count: they mark how far the
    /// inversion has come when the class token's attention is read, as in SMI (50, 100, 200, 300 of 4000).
    public var pruneAt = [50, 100, 200, 300]
    /// Fraction of the remaining patches dropped at each step of `pruneAt` (one value for all, or one
    /// per step): 0.3 four times keeps 24 % (64 → 44 → 30 → 21 → 14 patches on an 8×8 grid).
    public var pruneRatio: [Float] = [0.3]
    /// Weight of the plain TV-L2 prior; nil means SMI's 1e-4 at 32×3×224×224, scaled by √(n₀/n) for
    /// n pixels in the batch. [decision] The TV is a sum of Frobenius norms (it grows with √n) while the
    /// CE does not grow, so this keeps the prior's share of the loss at every image size (as τ's `.sqrtPixels`).
    public var tvWeight: Float? = nil
    /// Adam's betas (SMI: 0.5, 0.99; no learning-rate schedule).
    public var betas: (Float, Float) = (0.5, 0.99)
    /// The largest roll in each axis as a fraction of the image side (SMI: 1/8).
    public var jitterFraction: Float = 0.125
    public init() {}

    /// The ratio of prune step `k`.
    public func ratio(step k: Int) -> Float { pruneRatio[Swift.min(k, pruneRatio.count - 1)] }
}

/// How the TV target τ follows the image size and the model (see `SynthesisOptions.tauScaling`).
/// PSAQ-ViT draws τ ~ U(2500, 3000) for n₀ = 32×3×224×224 values.
public enum TauScaling: String, CaseIterable, Codable {
    /// `start` on Swin, `sqrtPixels` on ViT/DeiT (default), each family's better rule in
    /// recipes/study_tv_target.dfq, as α1 has one default per family.
    case auto
    /// τ·√(n/n₀): the same fraction (about 22 %) of the N(0, 1) start's TV at every size, so the TV
    /// term smooths the images as PSAQ-ViT's does at 224×224.
    case sqrtPixels = "sqrt_pixels"
    /// τ·n/n₀: METHOD §2's literal reading.
    case pixels
    /// τ/2750 times the TV of the N(0, 1) start: the term holds the batch near the start's total
    /// variation instead of smoothing it (docs/synthesis.md, "τ").
    case start

    /// The rule `auto` stands for on a model with (ViT/DeiT) or without (Swin) a class token.
    public func resolved(classToken: Bool) -> TauScaling {
        self == .auto ? (classToken ? .sqrtPixels : .start) : self
    }
}

/// Which blocks APA aligns (METHOD §3: Σ_{l = L/2 … L}).
public enum APABlockRange: String, CaseIterable, Codable {
    /// The paper's sum read literally: 1-based l = ⌊L/2⌋ … L, i.e. 0-based l ≥ ⌊L/2⌋ − 1
    /// (4 of 6 blocks, 7 of 12) (default).
    case paper
    /// Exactly the latter half: 0-based l ≥ ⌊L/2⌋ (3 of 6 blocks, 6 of 12).
    case latterHalf = "latter_half"
    /// Every block.
    case all
}

/// Which view of the image APA aligns with its priors, given that each iteration rolls and may
/// flip the image (METHOD §3, [revised]).
public enum APAView: String, CaseIterable, Codable {
    /// [decision] The un-augmented image, run as extra rows of the same forward batch (default):
    /// the priors are targets in image coordinates, and a ViT's attention is neither shift- nor
    /// flip-equivariant (learned position embeddings, sub-patch rolls), so only this view lets APA
    /// reach them (docs/synthesis.md). Costs `count` more rows per step.
    case clean
    /// The augmented image, with the priors rolled (by the offset in tokens, linearly interpolated
    /// for sub-token offsets, wrapping like the roll) and flipped with it. No extra rows.
    case moved
    /// The augmented image against the priors fixed on the token grid: the optimum is then a
    /// blurred, mirror-averaged map flatter than any prior.
    case fixed
}

/// How the soft-label logits Z are drawn at the relevant classes (METHOD §3, SL).
public enum SoftLabelScale: String, CaseIterable, Codable {
    /// [decision] U(5, 10) + ln((K − 1)/999) for K classes: a class gets the same share of the mass
    /// against the K − 1 others as the paper's U(5, 10) against ImageNet's 999 (0.13–0.96 for one
    /// class). At K = 10 the draw is U(0.29, 5.29) (default).
    case matched
    /// The paper's literal U(5, 10), whatever the class count (one-hot-like at 10 classes: 0.94–0.9996).
    case literal
}

/// How MSR's region crops enter the (soft) cross-entropy (METHOD §3).
public enum RegionWeighting: String, CaseIterable, Codable {
    /// [decision] Whole images and region crops as two separate means, each of weight 1 (default):
    /// the whole images are the calibration set and keep a term of their own.
    case separate
    /// One mean over whole images and crops together (crops outnumber images about 2.5 : 1).
    case pooled
}

/// Errors of synthesis; each names what went wrong and where.
public enum SynthesisError: Error, CustomStringConvertible, Equatable {
    /// A loss term became NaN or infinite.
    case nonFinite(iteration: Int, term: String, value: Float)
    case invalid(String)
    /// `shouldStop` returned true (Ctrl-C).
    case interrupted(iteration: Int)

    public var description: String {
        switch self {
        case let .nonFinite(it, term, v):
            return "synthesis diverged: loss term '\(term)' is \(v) at iteration \(it); try a smaller lr or α1"
        case let .invalid(m): return "synthesis: \(m)"
        case let .interrupted(it): return "synthesis interrupted at iteration \(it)"
        }
    }
}

/// Options of every generator. Defaults are METHOD.md's; every [decision] there is an option here.
public struct SynthesisOptions {
    public var method: SynthesisMethod = .sardfq
    /// Total optimisation steps (PSAQ-ViT: 2 rounds × 500; SMI: 4000).
    public var iterations = 1000
    /// Rounds of warm-up + cosine; Adam state is kept across rounds.
    public var rounds = 2
    /// Warm-up length as a fraction of a round (PSAQ-ViT: 100 of 500). [decision] scaled this way
    /// when a round is not 500 steps.
    public var warmupFraction = 0.2
    /// Adam learning rate; nil means 0.20 for ViT/DeiT and 0.25 for Swin (SMI: 0.25).
    public var lr: Float? = nil
    public var betas: (Float, Float) = (0.5, 0.9)
    public var eps: Float = 1e-8
    /// Weight of |TV − τ|.
    public var tvWeight: Float = 0.05
    /// τ; nil draws U(2500, 3000) once (calibrated for 32×3×224×224) and scales it by `tauScaling`;
    /// `tauScale` overrides the scale factor.
    public var tau: Float? = nil
    public var tauScale: Float? = nil
    /// How τ follows the batch's pixel count n relative to 32×3×224×224 = n₀, and the model.
    /// [decision] `.auto`: `.sqrtPixels` (√(n/n₀)) on ViT/DeiT, where TV, a sum of Frobenius norms
    /// growing with √n, keeps the same fraction of a noise image's TV at every size; `.start` on
    /// Swin, where the smoothing target leaves every generator's images grey and their calibration
    /// far below Gaussian noise (recipes/study_tv_target.dfq). METHOD §2's literal `.pixels`
    /// (n/n₀) forces 32×32 images to be nearly constant (τ ≈ 19 against a TV of about 1000 for the
    /// N(0, 1) start): measured on vit-t (epoch 1, 200 iterations), the SARDFQ set then calibrates
    /// W4A4 to 12 % top-1 instead of 67–76 %. See docs/synthesis.md, "τ".
    public var tauScaling: TauScaling = .auto
    /// Maximum roll offset per round in pixels; nil means (15, 30) scaled by height/224, at least 1.
    public var jitter: [Int]? = nil
    /// Random horizontal flip with p = 0.5 each iteration.
    public var flip = true
    /// Weight of the (hard or soft) cross-entropy.
    public var ceWeight: Float = 1
    /// Weight of PSAQ-ViT's entropy term.
    public var pseWeight: Float = 1

    // SARDFQ
    public var apa = true
    public var msr = true
    public var softLabels = true
    /// α1, the weight of L_APA; nil means 1000 for ViT/DeiT and 1 for Swin. [decision] The paper
    /// tunes it per model over 1…1e5 (Figure 5(a) is that sweep). ViT: 1000 is the smallest α1 at
    /// which APA on the clean view aligns the attention of the shipped vit-t (recipes/study_apa_alignment.dfq:
    /// APA loss below that of uniform maps, entropy nearer the priors' than uniform's) while the images
    /// keep their class. Swin: on swin-t every α1 > 0 lowers W4A4 top-1 (docs/synthesis.md, "Swin").
    public var alpha1: Float? = nil

    /// α1 for `model` (the option or the family default).
    public func effectiveAlpha1(classToken: Bool) -> Float { alpha1 ?? (classToken ? 1000 : 1) }
    /// Mixture components of a prior.
    public var kAPA = 5
    /// At most this many MSR regions per image.
    public var kMSR = 4
    public var priorKind: PriorKind = .gmm
    /// The blocks APA aligns.
    public var apaBlocks: APABlockRange = .paper
    /// Which view of the image APA compares with its priors (the priors live in image coordinates).
    public var apaView: APAView = .clean
    /// [decision] For Swin, each prior is projected onto what windowed attention can produce: every
    /// group of tokens that attend only among themselves (a window, or one mask region of a shifted
    /// window) carries mass |group|/T, distributed inside the group as the prior is. `false` keeps the
    /// full-grid prior (unreachable when its mass is not spread over the windows that way).
    public var windowPriors = true
    /// How the soft-label logits are drawn.
    public var softLabelScale: SoftLabelScale = .matched
    /// How region crops enter the cross-entropy.
    public var regionWeighting: RegionWeighting = .separate
    /// Run MSR's region crops every this many iterations (1: every iteration, as the paper); the
    /// other iterations optimise the whole images alone.
    public var msrEvery = 1
    /// Weigh block l by (l + 1)/L (else 1).
    public var depthWeighted = true

    /// Normalization of the model's inputs; nil means Fashion-MNIST's for 1 channel and
    /// ImageNet's for 3 (pass the model's preset preprocessing for ViT augreg weights).
    public var mean: [Float]? = nil
    public var std: [Float]? = nil
    /// Real images (N, C, H, W), normalized, for `.real` and for `priorKind == .real`.
    public var realImages: Tensor? = nil
    public var realLabels: [Int]? = nil

    /// Target classes of the images, repeated to the image count (image i gets `labels[i % count]`);
    /// nil draws them uniformly. Figure 1(a) on ImageNet uses it to show a few classes, many images each.
    public var labels: [Int]? = nil

    /// Sparse Model Inversion's settings (method `.smi`).
    public var smi = SMIOptions()

    /// Call the snapshot callback every this many iterations (0: never).
    public var snapshotEvery = 0

    public init() {}
    public init(method: SynthesisMethod) { self.method = method }

    /// The normalization for a model with `channels` input channels.
    public func normalization(channels: Int) throws -> (mean: [Float], std: [Float]) {
        if let mean, let std {
            guard mean.count == channels, std.count == channels, std.allSatisfy({ $0 > 0 }) else {
                throw SynthesisError.invalid("mean/std need \(channels) values (std > 0), got \(mean) / \(std)")
            }
            return (mean, std)
        }
        return Preprocessing.defaultNormalization(channels: channels)
    }

    /// A short text of the options that change the result (for cache keys and metadata).
    public var summary: String {
        var parts = ["method=\(method.rawValue)", "iters=\(iterations)", "rounds=\(rounds)", "warmup=\(warmupFraction)",
                     "lr=\(lr.map { "\($0)" } ?? "auto")", "betas=\(betas.0),\(betas.1)", "eps=\(eps)", "tv=\(tvWeight)",
                     "tau=\(tau.map { "\($0)" } ?? "auto")", "tau_scale=\(tauScale.map { "\($0)" } ?? tauScaling.rawValue)",
                     "jitter=\(jitter.map { "\($0)" } ?? "auto")", "flip=\(flip)", "ce=\(ceWeight)", "pse=\(pseWeight)"]
        if method == .sardfq {
            parts += ["apa=\(apa)", "msr=\(msr)", "sl=\(softLabels)", "alpha1=\(alpha1.map { "\($0)" } ?? "auto")", "k_apa=\(kAPA)", "k_msr=\(kMSR)",
                      "prior=\(priorKind.rawValue)", "apa_blocks=\(apaBlocks.rawValue)", "depth_weight=\(depthWeighted)",
                      "apa_view=\(apaView.rawValue)", "window_priors=\(windowPriors)", "sl_scale=\(softLabelScale.rawValue)",
                      "regions=\(regionWeighting.rawValue)", "msr_every=\(msrEvery)"]
        }
        if method == .smi {
            parts += ["prune_at=\(smi.pruneAt)", "prune_ratio=\(smi.pruneRatio)", "smi_tv=\(smi.tvWeight.map { "\($0)" } ?? "auto")",
                      "smi_betas=\(smi.betas.0),\(smi.betas.1)", "smi_jitter=\(smi.jitterFraction)"]
        }
        // Only when set, so the cache keys of runs with drawn labels are unchanged.
        if let labels { parts.append("labels=\(labels)") }
        parts.append("mean=\(mean.map { "\($0)" } ?? "auto")")
        parts.append("std=\(std.map { "\($0)" } ?? "auto")")
        return parts.joined(separator: " ")
    }
}

/// Called during synthesis.
public struct SynthesisCallbacks {
    /// After every iteration: (iteration done, total, loss terms by name, "total" last).
    public var progress: ((Int, Int, [(String, Double)]) -> Void)?
    /// Every `snapshotEvery` iterations: (iteration done, a copy of the images (B, C, H, W)).
    public var snapshot: ((Int, Tensor) -> Void)?
    /// Polled between iterations; true stops with `SynthesisError.interrupted`.
    public var shouldStop: (() -> Bool)?
    public init(progress: ((Int, Int, [(String, Double)]) -> Void)? = nil, snapshot: ((Int, Tensor) -> Void)? = nil,
                shouldStop: (() -> Bool)? = nil) {
        self.progress = progress; self.snapshot = snapshot; self.shouldStop = shouldStop
    }
}
