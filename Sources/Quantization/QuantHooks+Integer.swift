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
    /// t widened to s16 and packed for `ck_gemm_u8s16`, made once where this CPU's u8·s8 product
    /// would saturate on t (no VNNI and levels outside [−64, 63]; `ck_gemm_u8s8s32`), else nil.
    let widened: [Int16]?
    let levelSums: [Int32]
    let offsetMinusZero: [Int32]
    /// Δw per output row.
    let scales: [Float]
    /// (K, N): q − zw as floats, for the clamped elements of an input with a fractional zero
    /// point; empty for other inputs.
    let transposed: [Float]

    /// nil when the quantizer's levels are not integers the kernel can take (bits > 8, a
    /// fractional zero point, per-channel along the input axis). `fractionalInput`: the layer's
    /// input has a fractional zero point (keeps `transposed`). - w: (N, K)
    init?(_ w: Tensor, _ q: UniformQuantizer, fractionalInput: Bool) {
        guard w.rank == 2, q.bits <= 8, q.isCalibrated, q.granularity != .lastAxis else { return nil }
        let (n, k) = (w.shape[0], w.shape[1])
        let perRow = q.granularity == .rows
        guard perRow ? q.scales.count == n : q.scales.count == 1 else { return nil }
        guard q.zeroPoints.allSatisfy({ $0.rounded() == $0 }) else { return nil }
        let o: Float = q.qmin < 0 ? 0 : Float(1 << (q.bits - 1))
        var levels = [Int8](repeating: 0, count: n * k), sums = [Int32](repeating: 0, count: n)
        var offsets = [Int32](repeating: 0, count: n), scales = [Float](repeating: 0, count: n)
        var transposed = [Float](repeating: 0, count: fractionalInput ? n * k : 0)
        let x = w.ptr  // tensors are dense row-major
        for j in 0..<n {
            let s = q.scales[perRow ? j : 0], z = q.zeroPoints[perRow ? j : 0]
            var sum: Int32 = 0
            for kk in 0..<k {
                // The fake quantizer's level: clamp(round_half_even(w / Δ) + z, qmin, qmax).
                let level = Swift.min(q.qmax, Swift.max(q.qmin, (x[j * k + kk] / s).rounded(.toNearestOrEven) + z))
                let t = Int32(level - o)
                levels[j * k + kk] = Int8(t)
                if fractionalInput { transposed[kk * n + j] = level - z }
                sum += t
            }
            sums[j] = sum; offsets[j] = Int32(o - z); scales[j] = s
        }
        self.n = n; self.k = k; self.levels = levels; self.levelSums = sums; self.offsetMinusZero = offsets; self.scales = scales
        self.transposed = transposed
        if ck_gemm_u8s8_widens() != 0 && ck_s8_saturates_pairs(levels, n * k) != 0 {
            var packed = [Int16](repeating: 0, count: ck_s16_packed_count(n, k))
            ck_s16_pack(CChar(UInt8(ascii: "T")), n, k, levels, k, &packed)
            self.widened = packed
        } else {
            self.widened = nil
        }
    }

    /// `body` with the widened levels' address, or nil where they are not widened (an empty
    /// array's buffer may still have an address, so nil is passed explicitly).
    func withWidened<R>(_ body: (UnsafePointer<Int16>?) -> R) -> R {
        guard let widened else { return body(nil) }
        return widened.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// One linear layer ready to run in integers: its input quantizer's levels and its integer
/// weights (`ck_int8_linear`).
struct IntegerLinearPlan {
    let layer: String
    let weights: IntegerWeights
    let bias: Tensor?
    /// Input Δ, the integer part of its zero point, the clamp level, and frac(z) when fractional.
    let inputScale: Float, zero: Float, umax: Float, fraction: Float?
    /// Δx·Δw per output column.
    let outScale: [Float]
    var k: Int { weights.k }
    var n: Int { weights.n }

    /// y[rows] = (residual[rows] + b) + x[rows]·Wᵀ, or GELU(x[rows]·Wᵀ + b), one single-threaded
    /// call. - x: (rows, K), y and residual: (rows, N), row-major
    func run(rows: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, gelu: Bool) throws {
        let rc = weights.withWidened { wide in
            ck_int8_linear(Int32(rows), Int32(n), Int32(k), x, inputScale, zero, umax, fraction == nil ? 0 : 1,
                           weights.levels, wide, weights.levelSums, weights.offsetMinusZero, outScale, bias?.ptr, y,
                           -(fraction ?? 0), 1 - (fraction ?? 0), weights.transposed, residual, gelu ? 1 : 0)
        }
        guard rc == 0 else { throw QuantError.argument("integer linear '\(layer)': oneDNN's u8·s8 product failed (\(rc))") }
    }
}

extension QuantHooks {
    /// The integer plan of linear layer `layer`, or nil to take the fake-quant path: the input
    /// quantizer must be per-tensor with levels 0…2^b − 1 (b ≤ 8), the weight quantizer uniform per
    /// row or per tensor with integer zero points (b ≤ 8), and no gradient may be wanted.
    ///
    /// A fractional input zero point (RepQ's folded z̃) is exact too: the levels are
    /// u = clamp(round(x/Δ) + ⌊z̃⌋, 0, 2^b − 2), and a clamped element, whose fake-quant value lies
    /// off that grid by −frac(z̃) (below) or 1 − frac(z̃) (above), adds that offset times its
    /// weight column in the epilogue. - weight: (N, K), bias: (N) or nil
    func integerPlan(_ layer: String, weight: Tensor, bias: Tensor?, inputRequiresGrad: Bool) -> IntegerLinearPlan? {
        guard execution == .int8, mode == .quantize, quantizeWeights, quantizeActivations, !measuring,
              !(GradMode.enabled && (inputRequiresGrad || weight.requiresGrad)),
              let qa = quantizers[layer + ".input"] as? UniformQuantizer, qa.isCalibrated, qa.granularity == .tensor,
              qa.bits <= 8, qa.qmin == 0, let qw = quantizers[layer + ".weight"] as? UniformQuantizer,
              !floatSites.contains(layer + ".input"), !floatSites.contains(layer + ".weight"),
              case let z = qa.zeroPoints[0], case let za = z.rounded(.down),
              let iw = integerWeights(layer, weight, qw, fractionalInput: za != z), iw.k < 33_000 else { return nil }  // s32 epilogue bound (int8.c)
        let sa = qa.scales[0], fractional = za != z
        return IntegerLinearPlan(layer: layer, weights: iw, bias: bias, inputScale: sa, zero: za,
                                 umax: fractional ? qa.qmax - 1 : qa.qmax, fraction: fractional ? z - za : nil,
                                 outScale: iw.scales.map { $0 * sa })
    }

    /// The integer form of linear layer `layer` (see `integerPlan`), or nil. The residual add and
    /// the GELU happen in the product's epilogue.
    /// - x: (…, K), weight: (N, K), bias: (N), residual: (…, N) or nil → (…, N)
    public func integerLinear(_ layer: String, _ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor?, gelu: Bool) throws -> Tensor? {
        guard let plan = integerPlan(layer, weight: weight, bias: bias, inputRequiresGrad: x.requiresGrad),
              x.shape.last == plan.k else { return nil }
        let (k, n) = (plan.k, plan.n), m = x.count / Swift.max(1, k)
        let outShape = Array(x.shape.dropLast()) + [n]
        if let residual, residual.shape != outShape { return nil }
        let y = Tensor(uninitialized: outShape)
        let (xp, yp, rp) = (x.ptr, y.ptr, residual?.ptr)
        // One share of the rows per worker (the kernel walks its share in cache-sized blocks).
        var failure: Error?
        Parallel.forRange(m, grain: Swift.max(16, 65536 / Swift.max(1, n))) { rows in
            do {
                try plan.run(rows: rows.count, xp + rows.lowerBound * k, yp + rows.lowerBound * n,
                             residual: rp.map { $0 + rows.lowerBound * n }, gelu: gelu)
            } catch { failure = error }
        }
        if let failure { throw failure }
        return y
    }

    /// The cached integer weights of a layer, made on first use (they depend on the weights and
    /// the weight quantizer, both frozen once `execution` is set).
    func integerWeights(_ layer: String, _ w: Tensor, _ q: UniformQuantizer, fractionalInput: Bool) -> IntegerWeights? {
        integerLock.lock(); defer { integerLock.unlock() }
        if let cached = integerCache[layer] { return cached }
        let made = IntegerWeights(w, q, fractionalInput: fractionalInput)
        integerCache[layer] = made
        return made
    }
}

extension QuantHooks {
    /// The MLP at `pre` in integers with its hidden activations kept in a per-thread buffer: each
    /// block of rows runs fc1 with GELU, then fc2 on the result (quantized to fc2's input levels
    /// inside the kernel) and the residual; nil unless both layers take the integer path.
    /// - y: (…, D), fc1: (H, D), fc2: (D', H), residual: (…, D') or nil → (…, D')
    public func integerMLP(_ pre: String, _ y: Tensor, fc1: Tensor, fc1Bias: Tensor?, fc2: Tensor, fc2Bias: Tensor?, residual: Tensor?) throws -> Tensor? {
        guard let first = integerPlan(pre + "mlp.fc1", weight: fc1, bias: fc1Bias, inputRequiresGrad: y.requiresGrad),
              let second = integerPlan(pre + "mlp.fc2", weight: fc2, bias: fc2Bias, inputRequiresGrad: false),
              y.shape.last == first.k, first.n == second.k else { return nil }
        let (k, hidden, n) = (first.k, first.n, second.n), m = y.count / Swift.max(1, k)
        let outShape = Array(y.shape.dropLast()) + [n]
        if let residual, residual.shape != outShape { return nil }
        let out = Tensor(uninitialized: outShape)
        let (xp, op, rp) = (y.ptr, out.ptr, residual?.ptr)
        let block = Swift.max(16, 65536 / Swift.max(1, hidden))  // a block's hidden rows: about 256 kB
        var failure: Error?
        Parallel.forBlocks(m, block: block) { rows in  // claimed one block at a time
            guard let scratch = ck_scratch(Int32(CK_SCRATCH_MLP_HIDDEN), block * hidden * MemoryLayout<Float>.size) else { failure = QuantError.argument("integer MLP '\(pre)': out of memory"); return }
            let h = scratch.assumingMemoryBound(to: Float.self)
            do {
                for start in stride(from: rows.lowerBound, to: rows.upperBound, by: block) {
                    let count = Swift.min(block, rows.upperBound - start)
                    try first.run(rows: count, xp + start * k, h, residual: nil, gelu: true)
                    try second.run(rows: count, h, op + start * n, residual: rp.map { $0 + start * n }, gelu: false)
                }
            } catch { failure = error }
        }
        if let failure { throw failure }
        return out
    }
}
