import Foundation
import Tensor
@testable import Synthesis

/// The PSE loss as it was before the fused op (Losses.swift at commit 540b493): the
/// composite `patchSimilarities` and a KDE evaluated image by image on one core over all P·S
/// pairs, its backward recomputing the kernels. Kept for `pseProfile` only, so the before/after
/// figures of docs/synthesis.md come from one run.
enum LegacyPSE {
    static func psaqEntropy(_ attentionOutputs: [Tensor], batch: Int, dropClassToken: Bool) throws -> Tensor {
        var total: Tensor? = nil
        for a in attentionOutputs {
            let e = try kdeEntropy(Losses.patchSimilarities(a, batch: batch, dropClassToken: dropClassToken))
            total = try total.map { try $0 - e } ?? -e
        }
        return total!
    }

    static func kdeEntropy(_ values: Tensor, points: Int = Losses.kdePoints, bandwidth: Float = Losses.kdeBandwidth) throws -> Tensor {
        guard values.rank == 2, values.shape[1] > 0, points >= 2 else {
            throw TensorError.shape(op: "kde_entropy", message: "expects values (B, S) with S > 0 and at least 2 points, got \(shapeString(values.shape)), \(points) points")
        }
        let (b, s) = (values.shape[0], values.shape[1])
        let v = values.ptr
        var lo = Float.infinity, hi = -Float.infinity, finite = true
        for i in 0..<values.count { let x = v[i]; finite = finite && x.isFinite; lo = Swift.min(lo, x); hi = Swift.max(hi, x) }
        guard finite else {
            // Non-finite inputs give a NaN entropy (not an error), so the caller can name the loss term.
            let nan = Tensor(scalar: .nan).record("kde_entropy", [values]) { _ in
                let gv = values.gradBuffer()
                for i in 0..<values.count { gv[i] = .nan }
            }
            return nan
        }
        // torch.linspace in double: start + i·step for the first half, end − (P−1−i)·step after.
        let step = (Double(hi) - Double(lo)) / Double(points - 1)
        let grid: [Double] = (0..<points).map { i in i < points / 2 ? Double(lo) + Double(i) * step : Double(hi) - Double(points - 1 - i) * step }
        var tw = [Double](repeating: 0, count: points)   // trapezoid weights
        for t in 0..<(points - 1) { let h = (grid[t + 1] - grid[t]) / 2; tw[t] += h; tw[t + 1] += h }
        let var2 = 2 * Double(bandwidth) * Double(bandwidth)
        let norm = 1 / (Double.pi * var2).squareRoot()              // 1/sqrt(2π σ²)
        let density = Tensor(uninitialized: [b, points])
        // Every (grid point, value) pair, laid out densely as (P, S) per image in a loop the compiler
        // vectorises, exponentiated in one vectorised call. (Skipping far pairs, whose kernel is
        // below float resolution, saves exps but its scalar bookkeeping measured slower.) The
        // backward recomputes the kernels: nothing of size S is kept alive between the passes.
        let capacity = points * s
        let invF = Float(1 / var2)
        let gridF = grid.map { Float($0) }
        /// exp(−(x_t − v)²/(2σ²)) of image `img`, (P, S), written through `store`.
        func kernels(_ img: Int, _ store: Tensor) -> Tensor {
            let row = v + img * s, a = store.ptr
            for t in 0..<points {
                let x = gridF[t], at = a + t * s
                for j in 0..<s { let u = x - row[j]; at[j] = -u * u * invF }
            }
            return noGrad { store.exp() }
        }
        let argStore = Tensor(uninitialized: [capacity])
        var total = 0.0
        for img in 0..<b {
            let kern = kernels(img, argStore)
            var ent = 0.0
            for t in 0..<points {
                // Float partial sums of 1024 values, accumulated in double.
                let kt = kern.ptr + t * s
                var part: Float = 0, sum = 0.0
                for j in 0..<s { part += kt[j]; if j & 1023 == 1023 { sum += Double(part); part = 0 } }
                let d = (sum + Double(part)) / Double(s) * norm
                density.ptr[img * points + t] = Float(d)
                let q = d + Losses.entropyEpsilon
                ent += tw[t] * (-q * Foundation.log(q))
            }
            total += ent
        }
        let out = Tensor(scalar: Float(total / Double(Swift.max(b, 1))))
        out.record("kde_entropy", [values]) { g in
            // dE/dv = (1/B) Σ_t w_t · f'(q_t) · (1/S) · K_t(v) · (x_t − v)/σ², with f'(q) = −(log q + 1).
            let gv = values.gradBuffer(), scale = Double(g[0]) / Double(Swift.max(b, 1))
            let store = Tensor(uninitialized: [capacity])
            var coef = [Float](repeating: 0, count: points)
            for img in 0..<b {
                for t in 0..<points {
                    let q = Double(density.ptr[img * points + t]) + Losses.entropyEpsilon
                    coef[t] = Float(scale * tw[t] * (-(Foundation.log(q) + 1)) * norm / Double(s) * 2 / var2)
                }
                let kern = kernels(img, store)
                let row = v + img * s, gr = gv + img * s
                for t in 0..<points {
                    let c = coef[t], x = gridF[t], kt = kern.ptr + t * s
                    for j in 0..<s { gr[j] += c * kt[j] * (x - row[j]) }
                }
            }
        }
        return out
    }
}
