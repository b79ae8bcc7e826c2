import Foundation
import Tensor

/// The synthesis loss terms as standalone differentiable functions, so each can be taught,
/// checked and plotted on its own. Definitions: METHOD.md §2 (PSAQ-ViT) and §3 (SARDFQ);
/// the reference values come from `tools/reference_losses.py` (`losses.safetensors`).
public enum Losses {
    /// KDE bandwidth and grid of PSAQ-ViT's patch-similarity entropy.
    public static let kdeBandwidth: Float = 0.01
    public static let kdePoints = 10
    /// Added to the density before the log (PSAQ-ViT's `+1e-4`).
    public static let entropyEpsilon: Double = 1e-4

    // MARK: - PSE: patch-similarity entropy (PSAQ-ViT)

    /// Result of one KDE entropy evaluation.
    public struct KDEEntropy {
        /// Mean entropy over the images, a scalar on the tape.
        public let entropy: Tensor
        /// The batch-wide grid ends (lo, hi); constants.
        public let lo: Float, hi: Float
        /// Density at each grid point per image, (B, P); no gradient.
        public let density: Tensor
    }

    /// Entropy of the Gaussian KDE of each image's values, integrated by the trapezoid rule over
    /// `points` evenly spaced grid points between the batch-wide min and max (not differentiated).
    /// Fused forward and VJP (`KDEGrid`): a composite would materialise (B, P, S) several times.
    /// Its VJP is evaluated in the forward pass (per image, from that image's kernels).
    /// - values: (B, S) → entropy: scalar (mean over B)
    public static func kdeEntropy(_ values: Tensor, points: Int = kdePoints, bandwidth: Float = kdeBandwidth) throws -> KDEEntropy {
        guard values.rank == 2, values.shape[1] > 0, points >= 2 else {
            throw TensorError.shape(op: "kde_entropy", message: "expects values (B, S) with S > 0 and at least 2 points, got \(shapeString(values.shape)), \(points) points")
        }
        let (b, s) = (values.shape[0], values.shape[1])
        guard let kde = KDEGrid(values.ptr, count: values.count, points: points, bandwidth: bandwidth) else {
            // Non-finite inputs give a NaN entropy (not an error), so the caller can name the loss term.
            let nan = Tensor(scalar: .nan).record("kde_entropy", [values]) { _ in
                let gv = values.gradBuffer()
                for i in 0..<values.count { gv[i] = .nan }
            }
            return KDEEntropy(entropy: nan, lo: .nan, hi: .nan, density: Tensor.full([b, points], .nan))
        }
        let density = Tensor(uninitialized: [b, points])
        // The VJP at upstream gradient 1 is computed in the forward, while each image's kernels are
        // in cache; the backward only scales it.
        let phi: Tensor? = GradMode.enabled && values.requiresGrad ? Tensor(uninitialized: [b, s]) : nil
        let ents = kde.forward(values.ptr, batch: b, values: s, epsilon: entropyEpsilon, density: density.ptr,
                               gradient: phi?.ptr, gradScale: 1 / Double(b))
        let out = Tensor(scalar: Float(ents.reduce(0, +) / Double(b)))
        if let phi { out.record("kde_entropy", [values]) { g in values.accumulateGrad(phi.ptr, scale: g[0]) } }
        return KDEEntropy(entropy: out, lo: kde.lo, hi: kde.hi, density: density)
    }

    /// The similarity values of one block, one row per image: cosine similarity of every pair of
    /// head-averaged token vectors (diagonal included).
    /// - attentionOutput: (B·nW, H, N, d) (nW = 1 for ViT) → (B, nW·M·M), M = N − 1 when the
    ///   class token (token 0) is dropped, else N.
    public static func patchSimilarities(_ attentionOutput: Tensor, batch: Int, dropClassToken: Bool) throws -> Tensor {
        guard attentionOutput.rank == 4, batch > 0, attentionOutput.shape[0] % batch == 0 else {
            throw TensorError.shape(op: "patch_similarity", message: "expects attention outputs (B·nW, H, N, d) with B = \(batch), got \(shapeString(attentionOutput.shape))")
        }
        var p = try attentionOutput.mean(axes: [1])                                  // (B·nW, N, d)
        if dropClassToken { p = try p.slice(axis: 1, start: 1) }
        return try p.pairwiseCosine().reshape([batch, -1])
    }

    /// PSAQ-ViT's patch-similarity entropy loss: −Σ_blocks mean_b entropy_b, each block through
    /// the fused `patchSimilarityEntropy`.
    /// - attentionOutputs: per block (B·nW, H, N, d); `batch` = B → scalar
    public static func psaqEntropy(_ attentionOutputs: [Tensor], batch: Int, dropClassToken: Bool, prefixTokens: Int = 1) throws -> Tensor {
        guard !attentionOutputs.isEmpty else { throw TensorError.argument(op: "psaq_entropy", message: "needs at least one block's attention output") }
        var total: Tensor? = nil
        for a in attentionOutputs {
            let e = try patchSimilarityEntropy(a, batch: batch, dropClassToken: dropClassToken, prefixTokens: prefixTokens)
            total = try total.map { try $0 - e } ?? -e
        }
        return total!
    }

    /// The same loss from composite ops (`patchSimilarities`, then `kdeEntropy`): the reference
    /// the fused op is tested and profiled against.
    static func psaqEntropyComposite(_ attentionOutputs: [Tensor], batch: Int, dropClassToken: Bool) throws -> Tensor {
        var total: Tensor? = nil
        for a in attentionOutputs {
            let e = try kdeEntropy(patchSimilarities(a, batch: batch, dropClassToken: dropClassToken)).entropy
            total = try total.map { try $0 - e } ?? -e
        }
        return total!
    }

    // MARK: - TV: total variation

    /// TV(x) = ‖Δ_w x‖ + ‖Δ_h x‖ + ‖Δ_anti x‖ + ‖Δ_diag x‖, Frobenius norms over the whole batch
    /// (METHOD §2). Fused forward and VJP.
    /// - x: (B, C, H, W) → scalar
    public static func tvLoss(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4, x.shape[2] >= 2, x.shape[3] >= 2 else {
            throw TensorError.shape(op: "tv_loss", message: "expects images (B, C, H, W) with H, W ≥ 2, got \(shapeString(x.shape))")
        }
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        // The four neighbour offsets (dy, dx) of the differences x[p] − x[p + offset], each with
        // its valid source range: right, down, up-right (x[1:, :-1] − x[:-1, 1:]), down-right.
        let offsets: [(y0: Int, y1: Int, x0: Int, x1: Int, dy: Int, dx: Int)] = [
            (0, h, 0, w - 1, 0, 1), (0, h - 1, 0, w, 1, 0), (1, h, 0, w - 1, -1, 1), (0, h - 1, 0, w - 1, 1, 1)]
        let src = x.ptr
        func sums() -> [Double] {
            var parts = [Double](repeating: 0, count: planes * 4)
            parts.withUnsafeMutableBufferPointer { pb in
                let pbase = pb.baseAddress!
                Parallel.forEach(planes) { p in
                    let base = src + p * h * w
                    for (k, o) in offsets.enumerated() {
                        var dacc = 0.0
                        for yy in o.y0..<o.y1 {
                            let r = base + yy * w, r2 = base + (yy + o.dy) * w + o.dx
                            var acc: Float = 0
                            for xx in o.x0..<o.x1 { let d = r[xx] - r2[xx]; acc += d * d }
                            dacc += Double(acc)
                        }
                        pbase[p * 4 + k] = dacc
                    }
                }
            }
            var s = [0.0, 0, 0, 0]
            for p in 0..<planes { for k in 0..<4 { s[k] += parts[p * 4 + k] } }
            return s
        }
        let norms = sums().map { $0.squareRoot() }
        let out = Tensor(scalar: Float(norms.reduce(0, +)))
        return out.record("tv_loss", [x]) { g in
            let gx = x.gradBuffer(), g0 = g[0]
            let inv = norms.map { $0 > 0 ? Float(1 / $0) * g0 : 0 }
            Parallel.forEach(planes) { p in
                let base = src + p * h * w, gb = gx + p * h * w
                for (k, o) in offsets.enumerated() where inv[k] != 0 {
                    let c = inv[k]
                    for yy in o.y0..<o.y1 {
                        let r = base + yy * w, r2 = base + (yy + o.dy) * w + o.dx
                        let gr = gb + yy * w, gr2 = gb + (yy + o.dy) * w + o.dx
                        for xx in o.x0..<o.x1 { let d = c * (r[xx] - r2[xx]); gr[xx] += d; gr2[xx] -= d }
                    }
                }
            }
        }
    }

    /// PSAQ-ViT's TV term: weight·|TV(x) − τ| → scalar.
    public static func tvTerm(_ x: Tensor, tau: Float, weight: Float = 0.05) throws -> Tensor {
        try (tvLoss(x) - tau).abs() * weight
    }

    // MARK: - APA: attention maps and alignment

    /// Class-token attention map: row 0 of the softmax over the patches (the CLS→CLS entry, and
    /// CLS→distillation token of a distilled DeiT, left out), renormalised to sum 1 (METHOD §3).
    /// - probs: (B, H, N, N) → (B, H, N − prefixTokens)
    public static func classTokenMap(_ probs: Tensor, prefixTokens: Int = 1) throws -> Tensor {
        guard probs.rank == 4, probs.shape[2] == probs.shape[3], probs.shape[2] > prefixTokens, prefixTokens >= 1 else {
            throw TensorError.shape(op: "class_token_map", message: "expects probabilities (B, H, N, N), got \(shapeString(probs.shape))")
        }
        let (b, h, n) = (probs.shape[0], probs.shape[1], probs.shape[2])
        let row = try probs.slice(axis: 2, start: 0, end: 1).slice(axis: 3, start: prefixTokens).reshape([b, h, n - prefixTokens])
        return try row / row.sum(axes: [2], keepDims: true)
    }

    /// Swin attention map on the full token grid: the mean over the query tokens of each window,
    /// placed at its keys' positions of the shifted grid, the cyclic shift undone (roll by +shift),
    /// normalised to sum 1 per (image, head).
    /// - probs: (B·nW, H, w², w²) → (B, H, height·width)
    public static func windowMap(_ probs: Tensor, batch: Int, height: Int, width: Int, window: Int, shift: Int) throws -> Tensor {
        let nh = height / window, nw = width / window
        guard probs.rank == 4, window > 0, height % window == 0, width % window == 0,
              probs.shape[0] == batch * nh * nw, probs.shape[2] == window * window, probs.shape[3] == window * window else {
            throw TensorError.shape(op: "window_map", message: "expects probabilities (B·nW, H, w², w²) for B = \(batch), grid \(height)×\(width), window \(window); got \(shapeString(probs.shape))")
        }
        let heads = probs.shape[1]
        var m = try probs.mean(axes: [2])                                              // (B·nW, H, w²)
            .reshape([batch, nh, nw, heads, window, window]).permute([0, 3, 1, 4, 2, 5])
            .reshape([batch, heads, height, width])
        if shift > 0 { m = try m.roll(shifts: [shift, shift], axes: [2, 3]) }
        m = try m.reshape([batch, heads, height * width])
        return try m / m.sum(axes: [2], keepDims: true)
    }

    /// The blocks APA uses and their weights (l + 1)/L (0-based l), or 1 when not `depthWeighted`.
    /// `.paper` is METHOD §3's Σ_{l = L/2 … L} in 1-based blocks (0-based l ≥ ⌊L/2⌋ − 1: 4 of 6);
    /// `.latterHalf` is 0-based l ≥ ⌊L/2⌋ (tools/README.md, the fixtures' convention: 3 of 6).
    public static func apaBlocks(total L: Int, range: APABlockRange = .paper, depthWeighted: Bool = true) -> [(block: Int, weight: Float)] {
        let first: Int
        switch range {
        case .paper: first = Swift.max(0, L / 2 - 1)
        case .latterHalf: first = L / 2
        case .all: first = 0
        }
        return (first..<L).map { l in (l, depthWeighted ? Float(l + 1) / Float(L) : 1) }
    }

    /// L_APA = Σ_i weight_i · mean_b Σ_h mean_t (A_i[b,h,t] − prior_i[b,h,t])² (METHOD §3).
    /// - maps, priors: per used block (B, H, T) → scalar
    public static func apaLoss(maps: [Tensor], priors: [Tensor], weights: [Float]) throws -> Tensor {
        guard maps.count == priors.count, maps.count == weights.count, !maps.isEmpty else {
            throw TensorError.argument(op: "apa_loss", message: "\(maps.count) maps, \(priors.count) priors and \(weights.count) weights must agree and be non-empty")
        }
        var total: Tensor? = nil
        for (i, (a, p)) in zip(maps, priors).enumerated() {
            guard a.shape == p.shape, a.rank == 3 else {
                throw TensorError.shape(op: "apa_loss", message: "block \(i): map \(shapeString(a.shape)) vs prior \(shapeString(p.shape)), both (B, H, T)")
            }
            let term = try (a - p).pow(2).sum() * (weights[i] / Float(a.shape[0] * a.shape[2]))
            total = try total.map { try $0 + term } ?? term
        }
        return total!
    }
}

