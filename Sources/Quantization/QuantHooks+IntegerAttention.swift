import CKernels
import Foundation
import Models
import Tensor

extension QuantHooks {
    public var executesIntegers: Bool { execution == .int8 && mode == .quantize }

    /// The integer form of the attention at `pre` (`ck_int8_attention_forward`), or nil to take the
    /// operand-by-operand fake-quant path: Q, K and V need uniform per-tensor quantizers with
    /// levels 0…2^b − 1 (b ≤ 8) and integer zero points, the probabilities a log√2 quantizer, and
    /// no gradient may be wanted. Q·Kᵀ is an integer product at every bit-width, P·V where the
    /// log√2 levels are byte-sized shifts (≤ 4 bits).
    /// - qkv: (B, N, 3·H·hd), bias: (H, N, N) or nil, mask: (nW, N, N) or nil → (B, N, H·hd)
    public func integerAttention(_ pre: String, qkv: Tensor, heads: Int, scale: Float, bias: Tensor?, mask: Tensor?) throws -> Tensor? {
        guard execution == .int8, mode == .quantize, quantizeActivations, !measuring,
              !(GradMode.enabled && (qkv.requiresGrad || bias?.requiresGrad == true)),
              qkv.rank == 3, qkv.shape[2] % (3 * heads) == 0,
              let q = integerOperand(pre + "attn.q"), let k = integerOperand(pre + "attn.k"), let v = integerOperand(pre + "attn.v"),
              q.bits == k.bits, k.bits == v.bits,
              let p = quantizers[pre + "attn.attn"] as? LogQuantizer, p.isCalibrated, p.variant == .sqrt2,
              !floatSites.contains(pre + "attn.attn") else { return nil }
        let (b, n) = (qkv.shape[0], qkv.shape[1]), hd = qkv.shape[2] / (3 * heads)
        if let bias, bias.count != heads * n * n { return nil }
        let nW = mask?.shape[0] ?? 1
        if let mask, mask.count != nW * n * n || b % nW != 0 { return nil }
        let table = LogQuantizer.sqrt2Table(p.bits) + [0]  // the zero level's value last
        let context = Tensor(uninitialized: [b, n, heads * hd])
        var failed: Int32 = 0
        table.withUnsafeBufferPointer { t in
            var qz = ck_int8_attention_quant(
                sq: q.scales[0], zq: q.zeroPoints[0], sk: k.scales[0], zk: k.zeroPoints[0], sv: v.scales[0], zv: v.zeroPoints[0],
                qmax: q.qmax, o: Float(1 << (q.bits - 1)), pbits: Int32(p.bits), delta: p.delta,
                t1: LogQuantizer.t1, t3: LogQuantizer.t3, table: t.baseAddress, sqrt2: Float(2.0.squareRoot()))
            let (qp, cp, bp, mp) = (qkv.ptr, context.ptr, bias?.ptr, mask?.ptr)
            withUnsafePointer(to: &qz) { qzp in
                Parallel.forRange(b * heads, grain: 1) { r in
                    let rc = ck_int8_attention_forward(qp, bp, bias == nil ? nil : mp, nW, cp, n, heads, hd, scale, qzp,
                                                       r.lowerBound, r.upperBound)
                    if rc != 0 { failed = rc }
                }
            }
        }
        guard failed == 0 else { throw QuantError.argument("integer attention '\(pre)': oneDNN's u8·s8 product failed (\(failed))") }
        return context
    }

    /// A calibrated uniform per-tensor quantizer at an attention operand site whose levels the
    /// integer kernel takes (0…2^b − 1, b ≤ 8, an integer zero point), or nil.
    private func integerOperand(_ site: String) -> UniformQuantizer? {
        guard !floatSites.contains(site), let u = quantizers[site] as? UniformQuantizer, u.isCalibrated,
              u.granularity == .tensor, u.scales.count == 1, u.bits <= 8, u.qmin == 0,
              u.zeroPoints[0].rounded() == u.zeroPoints[0] else { return nil }
        return u
    }
}
