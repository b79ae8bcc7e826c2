import Foundation
import Testing
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

/// The KDE entropy's two evaluation paths (dense when the value range is narrower than the 12σ
/// cut-off, sparse pairs otherwise) against a direct double-precision evaluation of the formula.
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
