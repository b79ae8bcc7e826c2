import Foundation
import Tensor
import CKernels

/// The Gaussian KDE behind PSAQ-ViT's patch-similarity entropy, shared by `Losses.kdeEntropy`
/// (values given) and the fused `Losses.patchSimilarityEntropy` (values computed in place).
///
/// Definitions, for one image's values v_j (j < S) and the batch-wide grid x_t (t < P):
///   K_t(v) = exp(−(x_t − v)²/(2σ²)),  d_t = (1/S)·Σ_j K_t(v_j) / √(2πσ²),  q_t = d_t + ε,
///   entropy = Σ_t w_t·(−q_t log q_t)  (w_t: trapezoid weights),
///   ∂entropy/∂v_j = Σ_t w_t·(−(log q_t + 1))·(1/S)/√(2πσ²)·K_t(v_j)·(x_t − v_j)/σ².
///
/// Windowed evaluation: a pair (x_t, v) further apart than 12σ has K < e^−72 ≈ 5·10⁻³²,
/// far below float resolution of any density (they are added to ε = 10⁻⁴) and of any gradient
/// term, so each value is evaluated only at the `window` = min(P, ⌊24σ/Δ⌋ + 1) consecutive grid
/// points that can lie within 12σ of it (Δ the grid step). Every evaluated kernel is exact; when
/// the values spread over a range wider than about 24σ·(P − 1)/P, a value meets 2–3 grid points
/// instead of all P (PSAQ-ViT's σ = 0.01 against cosine similarities spread over [−1, 1]).
struct KDEGrid {
    let points: Int
    let lo: Float, hi: Float
    /// Grid points x_t as torch.linspace (in double, then float), (P).
    let grid: [Float]
    /// Trapezoid weights w_t, (P).
    let weights: [Double]
    /// 1/(2σ²) and 1/√(2πσ²).
    let invVar2: Float, norm: Double
    /// Grid points evaluated per value (K ≤ P).
    let window: Int
    /// first(v) = clamp(⌊(v − lo)·invStep − reach⌋ + 1, 0, P − K): the first evaluated grid point.
    let invStep: Float, reach: Float

    /// Kernels further apart than this many σ are not evaluated.
    static let cutoffSigmas: Float = 12

    /// The grid of `count` values at `v`, or nil when a value is not finite.
    init?(_ v: UnsafePointer<Float>, count: Int, points: Int, bandwidth: Float) {
        var lo = Float.infinity, hi = -Float.infinity, finite = true
        for i in 0..<count { let x = v[i]; finite = finite && x.isFinite; lo = Swift.min(lo, x); hi = Swift.max(hi, x) }
        guard finite, count > 0 else { return nil }
        self.points = points; self.lo = lo; self.hi = hi
        // torch.linspace in double: start + i·step for the first half, end − (P−1−i)·step after.
        let step = (Double(hi) - Double(lo)) / Double(points - 1)
        let g: [Double] = (0..<points).map { i in i < points / 2 ? Double(lo) + Double(i) * step : Double(hi) - Double(points - 1 - i) * step }
        var tw = [Double](repeating: 0, count: points)
        for t in 0..<(points - 1) { let h = (g[t + 1] - g[t]) / 2; tw[t] += h; tw[t + 1] += h }
        grid = g.map { Float($0) }
        weights = tw
        let var2 = 2 * Double(bandwidth) * Double(bandwidth)
        invVar2 = Float(1 / var2)
        norm = 1 / (Double.pi * var2).squareRoot()
        let cut = Double(KDEGrid.cutoffSigmas) * Double(bandwidth)
        if step > 0, (2 * cut / step) + 1 < Double(points) {
            window = Int((2 * cut / step).rounded(.down)) + 1
            invStep = Float(1 / step); reach = Float(cut / step)
        } else {
            window = points; invStep = 0; reach = 0
        }
    }

    /// Evaluated kernels of one image: `first[j]` and `e[k·S + j]` = K_{first[j]+k}(v_j), (K, S).
    func kernels(_ v: UnsafePointer<Float>, _ s: Int, first: UnsafeMutablePointer<Int32>, e: UnsafeMutablePointer<Float>) {
        let kw = window, last = Float(points - kw), lo = lo, invStep = invStep, reach = reach, c = invVar2
        if kw < points {
            // The grid points within reach of v are t > a = (v − lo)/Δ − reach and t < a + 2·reach:
            // first = ⌊a⌋ + 1 and K = ⌊2·reach⌋ + 1 cover them (float rounding of a can only drop
            // a pair at the 12σ boundary, whose kernel is e^−72). ⌊a⌋ by the 1.5·2²³ rounding
            // trick (no libm call, no trapping conversion), so the loop vectorises.
            let magic: Float = 12_582_912, bias = Int32(bitPattern: magic.bitPattern)
            for j in 0..<s {
                let a = (v[j] - lo) * invStep - reach
                let near = (a + magic) - magic
                let f = Swift.min(Swift.max((near > a ? near - 1 : near) + 1, 0), last)
                first[j] = Int32(bitPattern: (f + magic).bitPattern) &- bias
            }
        } else {
            for j in 0..<s { first[j] = 0 }
        }
        grid.withUnsafeBufferPointer { gp in
            let g = gp.baseAddress!
            for k in 0..<kw {
                let ek = e + k * s
                if kw == points {
                    let x = g[k]
                    for j in 0..<s { let u = x - v[j]; ek[j] = -u * u * c }
                } else {
                    for j in 0..<s { let u = g[Int(first[j] &+ Int32(truncatingIfNeeded: k))] - v[j]; ek[j] = -u * u * c }
                }
            }
        }
        ck_exp(e, e, kw * s)
    }

    /// Density d_t of one image, (P), from its kernels: the first `doubled` of the `s` stored
    /// values count twice (the off-diagonal half of a symmetric matrix), and `total` is the S of
    /// the formula (s when nothing is doubled).
    func density(_ s: Int, doubled: Int, total: Int, first: UnsafePointer<Int32>, e: UnsafePointer<Float>) -> [Double] {
        let kw = window
        var sums = [Double](repeating: 0, count: points)
        if kw == points {
            /// Σ of `et` over `range`: 8-wide float partial sums per block of 1024, accumulated in double.
            func rowSum(_ et: UnsafePointer<Float>, _ range: Range<Int>) -> Double {
                var total = 0.0, j = range.lowerBound
                while j < range.upperBound {
                    let end = Swift.min(range.upperBound, j + 1024)
                    var acc = SIMD8<Float>(repeating: 0)
                    while j + 8 <= end {
                        acc += UnsafeRawPointer(et + j).loadUnaligned(as: SIMD8<Float>.self); j += 8
                    }
                    var tail: Float = 0
                    while j < end { tail += et[j]; j += 1 }
                    total += Double(acc.sum() + tail)
                }
                return total
            }
            for t in 0..<points {
                let et = e + t * s
                sums[t] = 2 * rowSum(et, 0..<doubled) + rowSum(et, doubled..<s)
            }
        } else {
            // Scatter into the bins; four interleaved copies break the store-to-load chains of
            // neighbouring values that land in the same bin.
            var part = [Float](repeating: 0, count: 4 * points)
            part.withUnsafeMutableBufferPointer { pp in
                let p = pp.baseAddress!
                for (range, weight) in [(0..<doubled, 2.0), (doubled..<s, 1.0)] {
                    var j = range.lowerBound
                    while j < range.upperBound {
                        let end = Swift.min(range.upperBound, j + 1024)
                        while j < end {
                            let lane = p + ((j & 3) &* points &+ Int(first[j]))
                            for k in 0..<kw { lane[k] += e[k &* s &+ j] }
                            j += 1
                        }
                        for t in 0..<points { sums[t] += weight * Double(p[t] + p[points + t] + p[2 * points + t] + p[3 * points + t]) }
                        for i in 0..<(4 * points) { p[i] = 0 }
                    }
                }
            }
        }
        let scale = norm / Double(total)
        return sums.map { $0 * scale }
    }

    /// Σ_t w_t·(−q_t log q_t) with q_t = d_t + ε.
    func entropy(_ d: [Double], epsilon: Double) -> Double {
        var ent = 0.0
        for t in 0..<points { let q = d[t] + epsilon; ent += weights[t] * (-q * Foundation.log(q)) }
        return ent
    }

    /// coef_t = scale·w_t·(−(log q_t + 1))·(1/S)/√(2πσ²)·(1/σ²), (P)   [1/σ² = 2·invVar2]
    func coefficients(_ d: UnsafePointer<Float>, total: Int, epsilon: Double, scale: Double) -> [Float] {
        (0..<points).map { t in
            let q = Double(d[t]) + epsilon
            return Float(scale * weights[t] * (-(Foundation.log(q) + 1)) * norm / Double(total) * 2 * Double(invVar2))
        }
    }

    /// grad[j] (+)= Σ_k coef[t]·K_t(v_j)·(x_t − v_j) over the evaluated t = first[j] + k, from
    /// kernels already in `e`.
    func gradient(_ v: UnsafePointer<Float>, _ s: Int, coef: [Float], first: UnsafePointer<Int32>, e: UnsafePointer<Float>,
                  grad: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if !accumulate { for j in 0..<s { grad[j] = 0 } }
        let kw = window
        coef.withUnsafeBufferPointer { cp in
            grid.withUnsafeBufferPointer { gp in
                let cf = cp.baseAddress!, g = gp.baseAddress!
                for k in 0..<kw {
                    let ek = e + k * s
                    if kw == points {
                        let c = cf[k], x = g[k]
                        for j in 0..<s { grad[j] += c * ek[j] * (x - v[j]) }
                    } else {
                        for j in 0..<s { let t = Int(first[j] &+ Int32(truncatingIfNeeded: k)); grad[j] += cf[t] * ek[j] * (g[t] - v[j]) }
                    }
                }
            }
        }
    }

    /// Runs `body(image, first, e)` for every image over the workers, with per-worker scratch
    /// of S int32 and K·S floats.
    func forEachImage(_ b: Int, _ s: Int, _ body: (Int, UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Float>) -> Void) {
        Parallel.forRange(b, grain: 1) { r in
            let first = UnsafeMutablePointer<Int32>.allocate(capacity: s)
            let e = UnsafeMutablePointer<Float>.allocate(capacity: window * s)
            defer { first.deallocate(); e.deallocate() }
            for img in r { body(img, first, e) }
        }
    }

    /// Entropy of every image, (B), and densities into `density` (B, P); `s` values stored per
    /// image, the first `doubled` counting twice, `total` values in the formula. With `gradient`,
    /// also writes gradScale·∂entropy_b/∂v_j (B, s) while each image's kernels are still in cache:
    /// the coefficients depend on that image's density only, so no second pass is needed.
    func forward(_ v: UnsafePointer<Float>, batch b: Int, values s: Int, doubled: Int = 0, total: Int? = nil, epsilon: Double,
                 density: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>? = nil, gradScale: Double = 1) -> [Double] {
        var ents = [Double](repeating: 0, count: b)
        let total = total ?? s
        ents.withUnsafeMutableBufferPointer { ep in
            let ents = ep.baseAddress!
            forEachImage(b, s) { img, first, e in
                kernels(v + img * s, s, first: first, e: e)
                let d = self.density(s, doubled: doubled, total: total, first: first, e: e)
                let dimg = density + img * points
                for t in 0..<points { dimg[t] = Float(d[t]) }
                ents[img] = entropy(d, epsilon: epsilon)
                if let gradient {
                    let coef = coefficients(dimg, total: total, epsilon: epsilon, scale: gradScale)
                    self.gradient(v + img * s, s, coef: coef, first: first, e: e, grad: gradient + img * s, accumulate: false)
                }
            }
        }
        return ents
    }
}
