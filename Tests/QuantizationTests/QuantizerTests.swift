import Foundation
import Testing
import Tensor
@testable import Quantization

@Suite struct UniformQuantizerTests {
    @Test func clampingZeroPointAndHalfToEvenRounding() throws {
        // 2 bits: levels 0…3, Δ = 0.5, z = 2 → representable values −1, −0.5, 0, 0.5.
        let q = try UniformQuantizer(bits: 2)
        try q.set(scales: [0.5], zeroPoints: [2])
        let x = Tensor([-2, -1, -0.3, 0, 0.2, 0.25, 0.74, 0.76, 5])
        // x/Δ = −4, −2, −0.6, 0, 0.4, 0.5, 1.48, 1.52, 10 → round (0.5 → 0, half to even) → +z → clamp 0…3
        let y = try q.fakeQuant(x)
        #expect(y.array == [-1, -1, -0.5, 0, 0, 0, 0.5, 0.5, 0.5])
    }

    /// A constant (a zero-width range) maps to itself under every search, per tensor and per row.
    @Test func constantsAndConstantRowsMapToThemselves() throws {
        for search in [RangeSearch.minMax, .repq] {  // (symmetric: Δ = 2·max|x|/(2^b − 1) by definition)
            let q = try UniformQuantizer(bits: 4, granularity: .tensor, search: search)
            try q.calibrate(Tensor([7, 7]), site: "t")
            #expect(try q.fakeQuant(Tensor([7, 7])).array == [7, 7], "\(search)")
            let r = try UniformQuantizer(bits: 4, granularity: .rows, search: search)
            let x = try Tensor([5, 7]).reshape([2, 1])
            try r.calibrate(x, site: "t")
            #expect(try r.fakeQuant(x).array == [5, 7], "\(search) per row")
        }
    }

    @Test func straightThroughGradientIsMaskedToTheRange() throws {
        let q = try UniformQuantizer(bits: 2)
        try q.set(scales: [0.5], zeroPoints: [2])
        let x = try Tensor(shape: [9], [-2, -1, -0.3, 0, 0.2, 0.25, 0.74, 0.76, 5], requiresGrad: true)
        try q.fakeQuant(x).sum().backward()
        // round(x/Δ) + z = −2, 0, 1, 2, 2, 2, 3, 4, 12: the gradient passes for levels 0…3 only.
        #expect(x.grad!.array == [0, 1, 1, 1, 1, 1, 1, 0, 0])
    }

    @Test func percentileSearchPicksTheLowestErrorCandidate() throws {
        // Reference: for each pct the range [q(1−pct), q(pct)], MSE computed in Double here.
        var rng = RNG(seed: 3)
        let x = Tensor.normal([4000], rng: &rng)
        for i in 0..<6 { x.ptr[i * 97] = 25 + Float(i) }      // a few large outliers
        for bits in [2, 4, 8] {
            let q = try UniformQuantizer(bits: bits)
            try q.calibrate(x, site: "test")
            let sorted = x.array.sorted()
            let levels = Float((1 << bits) - 1)
            var best = (Double.infinity, Float(0), Float(0))
            for p in [0.999, 0.9999, 0.99999] {
                let hi = Tensor.quantileSorted(sorted, p), lo = Tensor.quantileSorted(sorted, 1 - p)
                let d = (hi - lo) / levels, z = (-lo / d).rounded(.toNearestOrEven)
                var e = 0.0
                for v in sorted {
                    let l = min(max((v / d).rounded(.toNearestOrEven) + z, 0), levels)
                    e += Double((l - z) * d - v) * Double((l - z) * d - v)
                }
                if e < best.0 { best = (e, d, z) }
            }
            #expect(abs(q.scales[0] - best.1) <= 1e-6 * best.1, "bits \(bits)")
            #expect(q.zeroPoints[0] == best.2, "bits \(bits)")
        }
    }

    @Test func rareOutliersAreClippedAtLowBits() throws {
        // 100 000 values evenly spread in [−1, 1] plus 5 at 50: at 2 bits the full range would
        // round everything inside to 0, so the search must keep the clipped range.
        var v = (0..<100_000).map { -1 + 2 * Float($0) / 99_999 }
        v += [Float](repeating: 50, count: 5)
        let q = try UniformQuantizer(bits: 2)
        try q.calibrate(Tensor(v), site: "test")
        #expect(q.scales[0] < 1, "scale \(q.scales[0]) should come from the clipped range (≈ 2/3), not from 51/3")
    }

    @Test func perRowAndPerChannelFitEachGroupAlone() throws {
        // Weight (2, 4): row 1 has ten times the range of row 0.
        let w = try Tensor(shape: [2, 4], [-0.1, 0.0, 0.05, 0.1, -1, 0, 0.5, 1])
        let q = try UniformQuantizer(bits: 8, granularity: .rows)
        try q.calibrate(w, site: "w")
        for r in 0..<2 {
            let single = try UniformQuantizer(bits: 8)
            try single.calibrate(try w.slice(axis: 0, start: r, end: r + 1), site: "row")
            #expect(q.scales[r] == single.scales[0] && q.zeroPoints[r] == single.zeroPoints[0])
        }
        #expect(q.scales[1] > 5 * q.scales[0])
        // Activations (3, 2): channel = last axis.
        let a = try Tensor(shape: [3, 2], [0, 10, 1, 20, 2, 30])
        let qa = try UniformQuantizer(bits: 4, granularity: .lastAxis)
        try qa.calibrate(a, site: "a")
        #expect(qa.scales.count == 2 && qa.scales[1] > 4 * qa.scales[0])
        // Per-channel fake quantization uses each channel's own parameters.
        try qa.set(scales: [1, 10], zeroPoints: [0, -1])
        #expect(try qa.fakeQuant(a).array == [0, 10, 1, 20, 2, 30])
    }

    @Test func symmetricMinMaxIsPSAQsWeightQuantizer() throws {
        // Row max|w| = 2, 4 bits: Δ = 2·2/15, levels −8…7.
        let w = try Tensor(shape: [1, 4], [0.5, -0.25, -1.0, 2.0])
        let q = try UniformQuantizer(bits: 4, granularity: .rows, search: .symmetricMinMax)
        try q.calibrate(w, site: "w")
        #expect(abs(q.scales[0] - 4.0 / 15) < 1e-7 && q.zeroPoints == [0])
        #expect(q.qmin == -8 && q.qmax == 7)
        // w/Δ = 1.875, −0.9375, −3.75, 7.5 → 2, −1, −4, and 7.5 rounds to 8 (or 7) and clamps to 7:
        // with this Δ the largest magnitude always lands on the ±7.5 tie, so +max loses half a step.
        #expect(close(try q.fakeQuant(w).array, [8, -4, -16, 28].map { $0 / 15 }))
    }

    @Test func asymmetricMinMaxIsPSAQsActivationQuantizer() throws {
        // [−1, 3] at 2 bits: Δ = 4/3, z = −round(−0.75) = 1.
        let x = Tensor([-1, 0, 3])
        let q = try UniformQuantizer(bits: 2, search: .minMax)
        try q.calibrate(x, site: "a")
        #expect(abs(q.scales[0] - 4.0 / 3) < 1e-6 && q.zeroPoints == [1])
        #expect(close(try q.fakeQuant(x).array, [-4.0 / 3, 0, 8.0 / 3]))
    }

    @Test func constantDataKeepsItsValueAndBadInputIsReported() throws {
        let q = try UniformQuantizer(bits: 4)
        try q.calibrate(Tensor.full([10], 0.3), site: "c")
        #expect(close(try q.fakeQuant(Tensor.full([3], 0.3)).array, [0.3, 0.3, 0.3]))
        #expect(throws: QuantError.self) { try UniformQuantizer(bits: 9) }
        #expect(throws: QuantError.self) { try UniformQuantizer(bits: 1) }
        let bad = Tensor([1, .nan, 2])
        do { try q.calibrate(bad, site: "blocks.0.attn.q"); Issue.record("NaN accepted") }
        catch { #expect("\(error)".contains("blocks.0.attn.q") && "\(error)".contains("NaN")) }
        let fresh = try UniformQuantizer(bits: 4)
        #expect(throws: QuantError.self) { try fresh.fakeQuant(Tensor([1])) }
    }
}

@Suite struct LogQuantizerTests {
    @Test func logSqrt2Levels() throws {
        // Δ = 1, 3 bits (levels 0…7): x̂ = 2^(−⌈q/2⌉)·(√2 if q odd), level 8 and above → 0.
        let q = try LogQuantizer(bits: 3)
        try q.set(delta: 1)
        let r2 = Float(2).squareRoot()
        let x: [Float] = [1, 0.5, 0.7071, 0.6, 0.25, 0.125, 0.09, 0.05, 2, 0]
        // −2·log2(x) = 0, 2, 1.0001, 1.47, 4, 6, 6.95, 8.64, −2, ∞ → levels 0, 2, 1, 1, 4, 6, 7, (8.64 → 9 ≥ 8: zero), clamp 0, zero
        let expected: [Float] = [1, 0.5, r2 / 2, r2 / 2, 0.25, 0.125, r2 / 16, 0, 1, 0]
        #expect(close(try q.fakeQuant(Tensor(x)).array, expected))
        // The scale multiplies every level.
        try q.set(delta: 0.5)
        #expect(close(try q.fakeQuant(Tensor([0.25, 0.5, 0.9])).array, [0.25, 0.5, 0.5]))
    }

    @Test func levelMatchesTheLogFormula() throws {
        // The bit-level round(−2·log2 y) agrees with the formula away from rounding ties.
        var rng = RNG(seed: 5)
        for _ in 0..<20_000 {
            let y = Float(Foundation.exp(Double(rng.uniform(-30, 2))))
            let ref = (-2 * Foundation.log2(Double(y)))
            if abs(ref - ref.rounded(.down) - 0.5) < 1e-4 { continue }
            #expect(LogQuantizer.sqrt2Level(y) == Int(ref.rounded()), "y = \(y)")
        }
        #expect(LogQuantizer.sqrt2Level(0) == Int.max && LogQuantizer.sqrt2Level(-1) == Int.max)
        #expect(LogQuantizer.sqrt2Level(Float.leastNonzeroMagnitude) > 250)
    }

    @Test func logSqrt2CalibrationPicksTheBestPercentile() throws {
        // Softmax rows of random scores: a typical attention distribution.
        var rng = RNG(seed: 9)
        let p = try (Tensor.normal([64, 32], std: 3, rng: &rng)).softmax()
        let q = try LogQuantizer(bits: 4)
        try q.calibrate(p, site: "attn")
        let sorted = p.array.sorted()
        let table = LogQuantizer.sqrt2Table(4)
        var best = (Double.infinity, Float(0))
        for pct in [0.999, 0.9999, 0.99999] {
            let d = Tensor.quantileSorted(sorted, pct)
            var e = 0.0
            for v in sorted {
                let l = Int((-2 * Foundation.log2(Double(v / d))).rounded())
                let y: Float = l >= 16 ? 0 : table[max(l, 0)] * d
                e += Double(y - v) * Double(y - v)
            }
            if e < best.0 { best = (e, d) }
        }
        #expect(q.delta == best.1)
        let y = try q.fakeQuant(p)
        #expect(relativeError(y, p) < 0.3)
    }

    @Test func shiftUniformLog2KeepsTheEndsAndIsAccurateAt8Bits() throws {
        var rng = RNG(seed: 11)
        let p = try (Tensor.normal([32, 16], std: 2, rng: &rng)).softmax()
        let q = try LogQuantizer(bits: 8, variant: .shiftUniformLog2)
        try q.calibrate(p, site: "attn")
        #expect(LogQuantizer.sulqShifts.contains(q.delta))
        let lo = p.array.min()!, hi = p.array.max()!
        let ends = try q.fakeQuant(Tensor([lo, hi])).array
        #expect(abs(ends[0] - lo) < 1e-5 && abs(ends[1] - hi) < 1e-5 * max(1, hi))
        var num = 0.0, den = 0.0
        let y = try q.fakeQuant(p)
        for i in 0..<p.count { num += Double((y.ptr[i] - p.ptr[i]) * (y.ptr[i] - p.ptr[i])); den += Double(p.ptr[i] * p.ptr[i]) }
        #expect((num / den).squareRoot() < 0.02)
    }

    @Test func logGradientPassesInsideTheRange() throws {
        let q = try LogQuantizer(bits: 3)
        try q.set(delta: 1)
        let x = try Tensor(shape: [4], [0.5, 0.05, 2, 0.3], requiresGrad: true)
        try q.fakeQuant(x).sum().backward()
        #expect(x.grad!.array == [1, 0, 0, 1])   // 0.05 → zero level, 2 → clamped above Δ
    }
}
