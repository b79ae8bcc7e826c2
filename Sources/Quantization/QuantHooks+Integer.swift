import CKernels
import Foundation
import Models
import Tensor

/// How a quantized model runs: fake quantization in float (the reference; what reconstruction's
/// gradients need) or integer products.
public enum Execution: String, Sendable, CaseIterable {
    case fake, int8
}

/// A linear layer's weights as integer levels, ready for `ck_int8_linear`: t[j, k] = q[j, k] − o,
/// q the quantizer's level (qmin…qmax), o = 2^(b−1) for asymmetric levels (so t fits s8 at 8
/// bits) and 0 for symmetric ones.
final class IntegerWeights: @unchecked Sendable {
    let n: Int, k: Int
    let levels: [Int8]
    let levelSums: [Int32]
    let offsetMinusZero: [Int32]
    /// Δw per output row.
    let scales: [Float]
    /// (K, N): q − zw as floats, for the clamped elements of an input with a fractional zero point.
    let transposed: [Float]

    /// nil when the quantizer's levels are not integers the kernel can take (bits > 8, a
    /// fractional zero point, per-channel along the input axis).
    init?(_ w: Tensor, _ q: UniformQuantizer) {
        guard w.rank == 2, q.bits <= 8, q.isCalibrated, q.granularity != .lastAxis else { return nil }
        let (n, k) = (w.shape[0], w.shape[1])
        let perRow = q.granularity == .rows
        guard perRow ? q.scales.count == n : q.scales.count == 1 else { return nil }
        guard q.zeroPoints.allSatisfy({ $0.rounded() == $0 }) else { return nil }
        let o: Float = q.qmin < 0 ? 0 : Float(1 << (q.bits - 1))
        var levels = [Int8](repeating: 0, count: n * k), sums = [Int32](repeating: 0, count: n)
        var offsets = [Int32](repeating: 0, count: n), scales = [Float](repeating: 0, count: n)
        var transposed = [Float](repeating: 0, count: n * k)
        let x = w.ptr  // tensors are dense row-major
        for j in 0..<n {
            let s = q.scales[perRow ? j : 0], z = q.zeroPoints[perRow ? j : 0]
            var sum: Int32 = 0
            for kk in 0..<k {
                // The fake quantizer's level: clamp(round_half_even(w / Δ) + z, qmin, qmax).
                let level = Swift.min(q.qmax, Swift.max(q.qmin, (x[j * k + kk] / s).rounded(.toNearestOrEven) + z))
                let t = Int32(level - o)
                levels[j * k + kk] = Int8(t)
                transposed[kk * n + j] = level - z
                sum += t
            }
            sums[j] = sum; offsets[j] = Int32(o - z); scales[j] = s
        }
        self.n = n; self.k = k; self.levels = levels; self.levelSums = sums; self.offsetMinusZero = offsets; self.scales = scales
        self.transposed = transposed
    }
}

extension QuantHooks {
    /// The integer form of linear layer `layer`, or nil to take the fake-quant path: the input
    /// quantizer must be per-tensor with levels 0…2^b − 1 (b ≤ 8), the weight quantizer uniform per
    /// row or per tensor with integer zero points (b ≤ 8), and no gradient may be wanted.
    ///
    /// A fractional input zero point (RepQ's folded z̃) is exact too: the levels are
    /// u = clamp(round(x/Δ) + ⌊z̃⌋, 0, 2^b − 2), and a clamped element, whose fake-quant value lies
    /// off that grid by −frac(z̃) (below) or 1 − frac(z̃) (above), adds that offset times its
    /// weight column in the epilogue.
    /// The residual add and the GELU happen in the product's epilogue.
    /// - x: (…, K), weight: (N, K), bias: (N), residual: (…, N) or nil → (…, N)
    public func integerLinear(_ layer: String, _ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor?, gelu: Bool) throws -> Tensor? {
        guard execution == .int8, mode == .quantize, quantizeWeights, quantizeActivations, !measuring,
              !(GradMode.enabled && (x.requiresGrad || weight.requiresGrad)),
              let qa = quantizers[layer + ".input"] as? UniformQuantizer, qa.isCalibrated, qa.granularity == .tensor,
              qa.bits <= 8, qa.qmin == 0, let qw = quantizers[layer + ".weight"] as? UniformQuantizer,
              !floatSites.contains(layer + ".input"), !floatSites.contains(layer + ".weight"),
              let iw = integerWeights(layer, weight, qw), x.shape.last == iw.k, iw.k < 33_000 else { return nil }  // s32 epilogue bound (int8.c)
        let k = iw.k, n = iw.n, m = x.count / Swift.max(1, k)
        let sa = qa.scales[0], z = qa.zeroPoints[0]
        let fractional = z.rounded(.down) != z
        let za = z.rounded(.down), frac = z - za
        let outScale = iw.scales.map { $0 * sa }
        let outShape = Array(x.shape.dropLast()) + [n]
        if let residual, residual.shape != outShape { return nil }
        let y = Tensor(uninitialized: outShape)
        let rp = residual?.ptr
        let b = bias
        var failed: Int32 = 0
        let yp = y.ptr
        let xp = x.ptr, umax = fractional ? qa.qmax - 1 : qa.qmax
        iw.levels.withUnsafeBufferPointer { tb in
            // Rows in panels across the pool; each panel quantizes its rows and makes one
            // single-threaded oneDNN call.
            let grain = Swift.max(16, 65536 / Swift.max(1, n))
            Parallel.forRange(m, grain: grain) { rows in
                let rc = ck_int8_linear(Int32(rows.count), Int32(n), Int32(k), xp + rows.lowerBound * k, sa, za, umax, fractional ? 1 : 0,
                                        tb.baseAddress, iw.levelSums, iw.offsetMinusZero, outScale, b?.ptr, yp + rows.lowerBound * n,
                                        -frac, 1 - frac, iw.transposed, rp.map { $0 + rows.lowerBound * n }, gelu ? 1 : 0)
                if rc != 0 { failed = rc }
            }
        }
        guard failed == 0 else { throw QuantError.argument("integer linear '\(layer)': oneDNN's u8·s8 product failed (\(failed))") }
        return y
    }

    /// The cached integer weights of a layer, made on first use (they depend on the weights and
    /// the weight quantizer, both frozen once `execution` is set).
    func integerWeights(_ layer: String, _ w: Tensor, _ q: UniformQuantizer) -> IntegerWeights? {
        integerLock.lock(); defer { integerLock.unlock() }
        if let cached = integerCache[layer] { return cached }
        let made = IntegerWeights(w, q)
        integerCache[layer] = made
        return made
    }
}
