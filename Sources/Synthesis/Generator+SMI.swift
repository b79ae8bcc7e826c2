import Foundation
import Tensor
import Models

/// Sparse Model Inversion (Hu et al., ICML 2024), the paper's second data-free baseline, in its
/// data-free quantization setting (behaviour read from Egg-Hu/SMI; docs/synthesis.md, "SMI").
///
/// Images start as N(0, 1) in normalized space and follow Adam (lr 0.25, betas 0.5, 0.99, no
/// schedule) on CE to random targets + a small TV-L2 prior, with a roll of up to 1/8 of the side
/// per axis and flips. At each iteration of `pruneAt` the class token's attention in the last block
/// (mean over heads, from the previous, un-augmented forward) ranks each image's remaining patches
/// and the lowest `ratio` are dropped: later forward and backward passes run on the kept tokens only.
/// The kept patches move with the roll (rounded to whole patches) and the flip. The result is the
/// best-loss image of every slot since the last pruning step, its dropped patches black.
extension Synthesis {
    static func generateSMI(model: VisionModel, count: Int, seed: UInt64, labels: [Int], options o: SynthesisOptions,
                            callbacks: SynthesisCallbacks) throws -> ImageSet {
        guard let vit = model as? VisionTransformer else {
            throw SynthesisError.invalid("method 'smi' inverts ViT/DeiT models only (SMI's scope: it ranks patches by the class token's attention), not \(model.architecture.family)")
        }
        let s = o.smi
        guard o.iterations >= 1 else { throw SynthesisError.invalid("iterations must be ≥ 1") }
        if let lr = o.lr, !(lr.isFinite && lr > 0) { throw SynthesisError.invalid("lr must be a positive finite number, got \(lr)") }
        guard s.pruneAt.allSatisfy({ $0 >= 0 }), zip(s.pruneAt, s.pruneAt.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw SynthesisError.invalid("prune_at must be increasing iterations ≥ 0, got \(s.pruneAt)")
        }
        guard !s.pruneRatio.isEmpty, s.pruneRatio.allSatisfy({ $0 > 0 && $0 < 1 }) else {
            throw SynthesisError.invalid("prune_ratio must be fractions strictly between 0 and 1, got \(s.pruneRatio)")
        }
        if let t = s.tvWeight, !(t.isFinite && t >= 0) { throw SynthesisError.invalid("the TV weight must be finite and ≥ 0, got \(t)") }
        let cfg = vit.config, (c, h, w) = (cfg.inChans, cfg.imgSize[0], cfg.imgSize[1])
        let (gh, gw, p) = (cfg.grid.h, cfg.grid.w, cfg.patchSize), patches = cfg.numPatches
        let classes = cfg.numClasses
        let (mean, std) = try o.normalization(channels: c)
        let root = RNG(seed: seed)
        var draws = SynthesisDraws()
        draws.labels = labels
        let start = now()

        var irng = root.derive("init")
        let x = Tensor.normal([count, c, h, w], rng: &irng)
        x.requiresGrad = true
        let frozen = model.params.tensors.filter(\.requiresGrad)  // only the pixels are optimised
        for q in frozen { q.requiresGrad = false }
        defer { for q in frozen { q.requiresGrad = true } }
        let opt = Adam([x], lr: o.lr ?? 0.25, betas: s.betas, eps: o.eps)
        let pixels = Float(count * c * h * w), reference = Float(32 * 3 * 224 * 224)
        let tvWeight = s.tvWeight ?? 1e-4 * (reference / pixels).squareRoot()
        let lim = (Int(Float(h) * s.jitterFraction), Int(Float(w) * s.jitterFraction))
        let lo = (0..<c).map { (0 - mean[$0]) / std[$0] }, hi = (0..<c).map { (1 - mean[$0]) / std[$0] }
        var jr = root.derive("jitter")

        var kept = [[Int]](repeating: Array(0..<patches), count: count)  // per image, sorted grid indices
        var ranking: [[Float]]? = nil     // class-token attention of the last un-augmented forward, per kept patch
        let best = x.copy()
        var bestLoss = [Float](repeating: .infinity, count: count)
        var lastTerms: [(String, Double)] = []
        let planeSize = c * h * w

        for it in 0..<o.iterations {
            if callbacks.shouldStop?() == true { throw SynthesisError.interrupted(iteration: it) }
            if let step = s.pruneAt.firstIndex(of: it) {
                let scores = try ranking ?? classAttention(vit, x, kept: kept)
                kept = prune(kept, scores: scores, ratio: s.ratio(step: step))
                ranking = nil
                // Losses before and after a pruning step are of different passes: the best image restarts.
                bestLoss = [Float](repeating: .infinity, count: count)
            }
            // No augmentation on a pruning iteration and the one before it (SMI): the ranking reads
            // an un-augmented forward, and the first sparse pass sees the patches it was ranked on.
            let still = s.pruneAt.contains(it) || s.pruneAt.contains(it + 1)
            let (dy, dx) = still ? (0, 0) : (jr.int(in: -lim.0...lim.0), jr.int(in: -lim.1...lim.1))
            let flip = still || !o.flip ? false : jr.bool(0.5)
            draws.jitter.append((dy, dx)); draws.flips.append(flip)
            var xa = dy == 0 && dx == 0 ? x : try x.roll(shifts: [dy, dx], axes: [2, 3])
            if flip { xa = try xa.flip(axes: [3]) }

            let dense = kept[0].count == patches
            let capture: Capture = s.pruneAt.contains(it + 1) ? [.attention] : []
            let visible = dense ? nil : kept.map { movedPatches($0, dy: dy, dx: dx, flip: flip, grid: (gh, gw), patch: p) }
            let out = try visible.map { try vit.forward(xa, keptPatches: $0, capture: capture) }
                ?? vit.forward(xa, capture: capture, hooks: nil)
            if !capture.isEmpty, let last = out.attention.last { ranking = VisionTransformer.classAttention(last, prefixTokens: vit.config.prefixTokens) }

            let ce = try Tensor.crossEntropy(out.logits, labels: labels)
            let tv = try Losses.tvLoss(x) * tvWeight  // on the un-augmented full images, dropped patches included (SMI)
            for (name, t) in [("ce", ce), ("tv", tv)] where !t.item.isFinite {
                throw SynthesisError.nonFinite(iteration: it + 1, term: name, value: t.item)
            }
            let total = try ce + tv
            lastTerms = [("ce", Double(ce.item)), ("tv", Double(tv.item)), ("total", Double(total.item))]
            // Each slot's own loss (its CE and weighted TV): the images it scored with are kept when best.
            let slotCE = rowCrossEntropy(out.logits, labels)
            for i in 0..<count {
                let own = try noGrad { try Losses.tvLoss(x.slice(axis: 0, start: i, end: i + 1)).item }
                let loss = slotCE[i] + tvWeight * own
                if loss < bestLoss[i] { bestLoss[i] = loss; (best.ptr + i * planeSize).update(from: x.ptr + i * planeSize, count: planeSize) }
            }
            try descend(x, total, opt, lo: lo, hi: hi, iteration: it + 1, options: o, callbacks: callbacks, terms: lastTerms)
        }
        x.zeroGrad()
        // The dropped patches of the result are black: pixel 0, normalized (0 − mean)/std.
        for i in 0..<count {
            let keep = Set(kept[i])
            for q in 0..<patches where !keep.contains(q) {
                let (py, px) = (q / gw, q % gw)
                for ch in 0..<c {
                    let plane = best.ptr + (i * c + ch) * h * w
                    for yy in (py * p)..<(py * p + p) { for xx in (px * p)..<(px * p + p) { plane[yy * w + xx] = lo[ch] } }
                }
            }
        }
        draws.keptPatches = kept
        var info = ["options": o.summary, "seconds": String(format: "%.3f", now() - start)]
        info["final_losses"] = lastTerms.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        info["kept_patches"] = "\(kept[0].count) of \(patches)"
        return ImageSet(images: best, labels: labels, softTargets: SoftLabels.oneHot(labels, numClasses: classes), mean: mean, std: std,
                        method: o.method.rawValue, seed: seed, draws: draws, info: info)
    }

    /// The class token's last-block attention to each kept patch of the un-augmented images (a
    /// pass of its own, for a pruning step with no forward before it). → per image, per kept patch
    static func classAttention(_ vit: VisionTransformer, _ x: Tensor, kept: [[Int]]) throws -> [[Float]] {
        let out = try noGrad {
            kept[0].count == vit.config.numPatches ? try vit.forward(x, capture: [.attention], hooks: nil)
                : try vit.forward(x, keptPatches: kept, capture: [.attention])
        }
        return VisionTransformer.classAttention(out.attention.last!, prefixTokens: vit.config.prefixTokens)
    }

    /// Keeps the ⌊K·(1 − ratio)⌋ (at least 1) highest-scoring of each image's K patches, sorted.
    /// - scores: per image, the score of each of its kept patches in order
    static func prune(_ kept: [[Int]], scores: [[Float]], ratio: Float) -> [[Int]] {
        zip(kept, scores).map { ids, sc in
            let k = Swift.max(1, Int(Float(ids.count) * (1 - ratio)))
            // Highest score first; ties to the lower index, so the order is deterministic.
            let order = ids.indices.sorted { sc[$0] != sc[$1] ? sc[$0] > sc[$1] : ids[$0] < ids[$1] }
            return order.prefix(k).map { ids[$0] }.sorted()
        }
    }

    /// Where the patches `ids` sit after a roll by (dy, dx) pixels, rounded to whole patches (half
    /// up, as SMI), then a horizontal flip. → grid indices, sorted
    static func movedPatches(_ ids: [Int], dy: Int, dx: Int, flip: Bool, grid: (h: Int, w: Int), patch: Int) -> [Int] {
        func shift(_ off: Int) -> Int { Int((Double(off) / Double(patch) + 0.5).rounded(.down)) }
        let (sy, sx) = (shift(dy), shift(dx))
        return ids.map { q in
            let r = ((q / grid.w + sy) % grid.h + grid.h) % grid.h
            var col = ((q % grid.w + sx) % grid.w + grid.w) % grid.w
            if flip { col = grid.w - 1 - col }
            return r * grid.w + col
        }.sorted()
    }

    /// Cross-entropy of each row. - logits: (B, classes) → B values
    static func rowCrossEntropy(_ logits: Tensor, _ labels: [Int]) -> [Float] {
        let k = logits.shape[1]
        return labels.enumerated().map { i, l in
            let row = logits.ptr + i * k
            var m = -Float.infinity
            for j in 0..<k { m = Swift.max(m, row[j]) }
            var s: Float = 0
            for j in 0..<k { s += Foundation.exp(row[j] - m) }
            return m + Foundation.log(s) - row[l]
        }
    }
}
