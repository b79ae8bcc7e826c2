import Foundation
import Testing
import TestSupport
@testable import Synthesis
import Tensor

/// Finite-difference checks of every synthesis loss term (GradCheck.check: central differences
/// of Σ f(x)·R in double, relative to the largest analytic gradient).
@Suite struct GradientCheckTests {
    /// Constant anchor tokens fix the KDE grid: token 0 is the class token (dropped), tokens 1 and 2
    /// are a and −a, so the batch-wide minimum similarity is −1 and the maximum (the diagonal) 1,
    /// whatever the checked tokens do. (The grid ends are constants by definition, as in PSAQ-ViT.)
    func anchored(_ x: Tensor) throws -> Tensor {
        let (b, h, d) = (x.shape[0], x.shape[1], x.shape[3])
        var vals: [Float] = []
        for _ in 0..<(b * h) { vals += [Float](repeating: 0.3, count: d) + (0..<d).map { Float($0 + 1) } + (0..<d).map { -Float($0 + 1) } }
        let anchors = try Tensor(shape: [b, h, 3, d], vals)
        return try Tensor.concat([anchors, x], axis: 2)
    }

    @Test func patchSimilarityEntropy() throws {
        let a = randn([2, 2, 5, 4], seed: 3)
        let r = try GradCheck.check([a], h: 1e-3) { x in try Losses.psaqEntropy([self.anchored(x[0])], batch: 2, dropClassToken: true) }
        #expect(r.maxError < 2e-2, "\(r)")
    }

    @Test func kdeEntropyOnValues() throws {
        // Values strictly inside constant ends (−0.06, 0.06), so the grid does not move.
        var rng = RNG(seed: 5)
        let v = Tensor.uniform([2, 12], low: -0.05, high: 0.05, rng: &rng)
        let ends = try Tensor(shape: [2, 2], [-0.06, 0.06, -0.06, 0.06])
        let r = try GradCheck.check([v], h: 1e-4) { x in try Losses.kdeEntropy(Tensor.concat([x[0], ends], axis: 1)).entropy }
        #expect(r.maxError < 1e-2, "\(r)")
    }

    @Test func apaLossThroughClassTokenMap() throws {
        let scores = randn([2, 2, 5, 5], seed: 7)
        var rng = RNG(seed: 8)
        let prior = Tensor.uniform([2, 2, 4], low: 0, high: 0.5, rng: &rng)
        let r = try GradCheck.check([scores], h: 1e-2) { x in
            try Losses.apaLoss(maps: [Losses.classTokenMap(x[0].softmax())], priors: [prior], weights: [0.75]) * 100
        }
        #expect(r.maxError < 1e-2, "\(r)")
    }

    @Test func apaLossThroughShiftedWindowMap() throws {
        // 4×4 grid, window 2, shift 1: 4 windows of 4 tokens, B = 2.
        let scores = randn([8, 2, 4, 4], seed: 9)
        var rng = RNG(seed: 10)
        let prior = Tensor.uniform([2, 2, 16], low: 0, high: 0.2, rng: &rng)
        let r = try GradCheck.check([scores], h: 1e-2) { x in
            try Losses.apaLoss(maps: [Losses.windowMap(x[0].softmax(), batch: 2, height: 4, width: 4, window: 2, shift: 1)],
                               priors: [prior], weights: [1]) * 100
        }
        #expect(r.maxError < 1e-2, "\(r)")
    }

    @Test func softCrossEntropy() throws {
        var rng = RNG(seed: 11)
        let z = Tensor.zeros([3, 6])
        z.ptr[1] = 7; z.ptr[6 + 2] = 5.5; z.ptr[6 + 4] = 9; z.ptr[12 + 0] = 6
        let targets = try SoftLabels.targets(z)
        let logits = Tensor.uniform([3, 6], low: -2, high: 2, rng: &rng)
        let r = try GradCheck.check([logits], h: 1e-2) { x in try Tensor.softCrossEntropy(x[0], targets: targets) }
        #expect(r.maxError < 1e-2, "\(r)")
    }

    @Test func totalVariationTerm() throws {
        let x = randn([2, 2, 5, 6], seed: 12)
        let r = try GradCheck.check([x], h: 1e-2) { x in try Losses.tvTerm(x[0], tau: 3, weight: 0.05) }
        #expect(r.maxError < 1e-2, "\(r)")
    }

    @Test func cropAndResizePath() throws {
        // MSR: the crop is resized to the model input and its gradient flows back into the box only.
        let x = randn([2, 1, 12, 12], seed: 13)
        let boxes = [PixelBox(image: 0, y: 1, x: 2, h: 5, w: 4), PixelBox(image: 1, y: 6, x: 6, h: 6, w: 3)]
        let r = try GradCheck.check([x], h: 1e-2, maxElements: 300) { x in
            try Losses.tvLoss(x[0].cropResize(boxes: boxes, outH: 12, outW: 12).flip(axes: [3]))
        }
        #expect(r.maxError < 2e-2, "\(r)")
        x.requiresGrad = true
        let y = try x.cropResize(boxes: boxes, outH: 12, outW: 12).sum()
        try y.backward()
        let g = x.grad!
        for img in 0..<2 { for yy in 0..<12 { for xx in 0..<12 {
            let inside = boxes.contains { $0.image == img && yy >= $0.y && yy < $0.y + $0.h && xx >= $0.x && xx < $0.x + $0.w }
            if !inside { #expect(g[img, 0, yy, xx] == 0) }
        } } }
    }
}

/// The KDE entropy's two evaluation paths (dense when the value range is narrow, windowed —
/// only the grid points within 12σ of a value — otherwise) against a direct double-precision
/// evaluation of the formula.
@Suite struct KDEPathTests {
    func naive(_ v: Tensor) -> (Double, [Double]) {
        let (b, s) = (v.shape[0], v.shape[1])
        let vals = v.array.map(Double.init)
        let lo = vals.min()!, hi = vals.max()!
        let grid = (0..<10).map { lo + (hi - lo) * Double($0) / 9 }
        var total = 0.0, dens: [Double] = []
        for i in 0..<b {
            let f = grid.map { x -> Double in
                let d = (0..<s).reduce(0.0) { $0 + Foundation.exp(-(x - vals[i * s + $1]) * (x - vals[i * s + $1]) / 2e-4) } / Double(s) / (2 * Double.pi * 1e-4).squareRoot()
                dens.append(d)
                return -(d + 1e-4) * Foundation.log(d + 1e-4)
            }
            for t in 0..<9 { total += (grid[t + 1] - grid[t]) * (f[t] + f[t + 1]) / 2 }
        }
        return (total / Double(b), dens)
    }

    @Test(arguments: [0.05, 0.8])
    func densePathAndSparsePathMatchTheFormula(halfRange: Double) throws {
        var rng = RNG(seed: 17)
        let v = Tensor.uniform([3, 400], low: -Float(halfRange), high: Float(halfRange), rng: &rng)
        let r = try Losses.kdeEntropy(v)
        let (e, d) = naive(v)
        #expect(Swift.abs(Double(r.entropy.item) - e) <= 1e-4 * Swift.max(1, Swift.abs(e)), "\(r.entropy.item) vs \(e)")
        for (k, x) in d.enumerated() { #expect(Swift.abs(Double(r.density.ptr[k]) - x) <= 1e-3 * Swift.max(1, x)) }
    }

    @Test func densePathGradient() throws {
        var rng = RNG(seed: 5)
        let v = Tensor.uniform([2, 12], low: -0.03, high: 0.03, rng: &rng)
        let ends = try Tensor(shape: [2, 2], [-0.04, 0.04, -0.04, 0.04])
        let r = try GradCheck.check([v], h: 1e-4) { x in try Losses.kdeEntropy(Tensor.concat([x[0], ends], axis: 1)).entropy }
        #expect(r.maxError < 1e-2, "\(r)")
    }
}

/// The fused per-block PSE op against the composite ops it replaces (values and gradients), on
/// ViT-shaped and Swin-shaped inputs, with the KDE on both its dense and windowed paths.
@Suite struct FusedPSETests {
    /// Attention outputs whose similarities spread widely (windowed KDE) or narrowly (dense KDE:
    /// a shared offset makes every token point the same way).
    func outputs(_ shape: [Int], seed: UInt64, narrow: Bool) -> Tensor {
        let a = randn(shape, seed: seed)
        if narrow { for i in 0..<a.count where i % shape[3] == 0 { a.ptr[i] += 30 } }
        return a
    }

    @Test(arguments: [(false, true), (true, true), (false, false), (true, false)])
    func fusedMatchesComposite(narrow: Bool, classToken: Bool) throws {
        // ViT: (B = 3, H = 2, N = 17, d = 8); Swin: B = 2 images of 4 windows, (8, 2, 16, 8).
        let shape = classToken ? [3, 2, 17, 8] : [8, 2, 16, 8]
        let batch = classToken ? 3 : 2
        let a = outputs(shape, seed: narrow ? 21 : 22, narrow: narrow)
        let sims = try noGrad { try Losses.patchSimilarities(a, batch: batch, dropClassToken: classToken) }
        let grid = KDEGrid(sims.ptr, count: sims.count, points: Losses.kdePoints, bandwidth: Losses.kdeBandwidth)!
        #expect((grid.window == Losses.kdePoints) == narrow, "window \(grid.window) on range [\(grid.lo), \(grid.hi)]")
        let a1 = a.copy(), a2 = a.copy()
        a1.requiresGrad = true; a2.requiresGrad = true
        let fused = try Losses.psaqEntropy([a1], batch: batch, dropClassToken: classToken)
        let composite = try Losses.psaqEntropyComposite([a2], batch: batch, dropClassToken: classToken)
        expectScalar(fused.item, composite.item, rtol: 1e-5, "fused vs composite entropy")
        try fused.backward(); try composite.backward()
        let scale = a2.grad!.array.map { Swift.abs($0) }.max()!
        #expect(scale > 0)
        expectClose(a1.grad!, a2.grad!, atol: 1e-4 * scale, rtol: 1e-3, "fused vs composite gradient")
        // The class-token rows get no gradient.
        if classToken { for b in 0..<3 { for h in 0..<2 { for k in 0..<8 { #expect(a1.grad![b, h, 0, k] == 0) } } } }
    }

    @Test func fusedSwinGradient() throws {
        // No class token, 2 images of 2 windows; the anchors of `GradientCheckTests` fix the grid.
        let a = randn([4, 2, 5, 4], seed: 23)
        let r = try GradCheck.check([a], h: 1e-3) { x in
            try Losses.patchSimilarityEntropy(GradientCheckTests().anchored(x[0]), batch: 2, dropClassToken: false)
        }
        #expect(r.maxError < 2e-2, "\(r)")
    }

    @Test func fusedAccumulatesIntoAnExistingGradient() throws {
        let a = randn([2, 2, 9, 4], seed: 24)
        a.requiresGrad = true
        let once = try Losses.patchSimilarityEntropy(a, batch: 2, dropClassToken: true)
        try once.backward()
        let g1 = a.grad!.copy()
        try Losses.patchSimilarityEntropy(a, batch: 2, dropClassToken: true).backward()
        expectClose(a.grad!, g1 * 2, atol: 1e-6, rtol: 1e-5, "second backward adds")
    }
}

/// The windowed KDE path (values spread wider than the 12σ window) against finite differences.
@Suite struct KDEWindowTests {
    @Test func windowedPathGradient() throws {
        // Ends ±0.6 fix the grid (step 0.133 ≫ 24σ); values sit within 2σ of grid points so
        // their kernels and gradients are far from zero.
        var rng = RNG(seed: 25)
        let step: Float = 1.2 / 9
        let vals = (0..<16).map { j -> Float in -0.6 + Float(1 + j % 8) * step + rng.uniform(-0.02, 0.02) }
        let v = try Tensor(shape: [2, 8], vals)
        let ends = try Tensor(shape: [2, 2], [-0.6, 0.6, -0.6, 0.6])
        let joined = try Tensor.concat([v, ends], axis: 1)
        let grid = KDEGrid(joined.ptr, count: joined.count, points: 10, bandwidth: 0.01)!
        #expect(grid.window < 10)
        let r = try GradCheck.check([v], h: 1e-4) { x in try Losses.kdeEntropy(Tensor.concat([x[0], ends], axis: 1)).entropy }
        #expect(r.maxError < 1e-2, "\(r)")
    }
}
