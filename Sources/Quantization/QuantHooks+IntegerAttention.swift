import CKernels
import Foundation
import Models
import Tensor

/// One attention ready to run in integers: the calibrated quantizers of Q, K, V and the
/// probabilities as `ck_int8_attention_forward` takes them.
struct IntegerAttentionPlan {
    let pre: String
    let quant: ck_int8_attention_quant
    /// The log√2 level table, the zero level's value (0) last; `quant.table` is bound to it per call.
    let table: [Float]

    /// Items [lo, hi) (b·H + h) of qkv rows starting at batch index b0 (for the mask), one
    /// single-threaded call. - qkv: (items' B, N, 3·H·hd) → ctx (items' B, N, H·hd)
    func run(_ qkv: UnsafePointer<Float>, _ ctx: UnsafeMutablePointer<Float>, n: Int, heads: Int, hd: Int, scale: Float,
             bias: UnsafePointer<Float>?, mask: UnsafePointer<Float>?, nW: Int, items: Range<Int>, b0: Int) throws {
        let rc = table.withUnsafeBufferPointer { t in
            var qz = quant
            qz.table = t.baseAddress
            return ck_int8_attention_forward(qkv, bias, mask, nW, ctx, n, heads, hd, scale, &qz, items.lowerBound, items.upperBound, b0)
        }
        guard rc == 0 else { throw QuantError.argument("integer attention '\(pre)': oneDNN's u8·s8 product failed (\(rc))") }
    }
}

extension QuantHooks {
    public var executesIntegers: Bool { execution == .int8 && mode == .quantize }

    /// The integer plan of the attention at `pre`, or nil to take the operand-by-operand
    /// fake-quant path: Q, K and V need uniform per-tensor quantizers with levels 0…2^b − 1
    /// (b ≤ 8) and integer zero points, the probabilities a log√2 quantizer, and no gradient may
    /// be wanted. Q·Kᵀ is an integer product at every bit-width, P·V where the log√2 levels are
    /// byte-sized shifts (≤ 4 bits).
    func attentionPlan(_ pre: String, inputRequiresGrad: Bool) -> IntegerAttentionPlan? {
        guard execution == .int8, mode == .quantize, quantizeActivations, !measuring,
              !(GradMode.enabled && inputRequiresGrad),
              let q = integerOperand(pre + "attn.q"), let k = integerOperand(pre + "attn.k"), let v = integerOperand(pre + "attn.v"),
              q.bits == k.bits, k.bits == v.bits,
              let p = quantizers[pre + "attn.attn"] as? LogQuantizer, p.isCalibrated, p.variant == .sqrt2,
              !floatSites.contains(pre + "attn.attn") else { return nil }
        let quant = ck_int8_attention_quant(
            sq: q.scales[0], zq: q.zeroPoints[0], sk: k.scales[0], zk: k.zeroPoints[0], sv: v.scales[0], zv: v.zeroPoints[0],
            qmax: q.qmax, o: Float(1 << (q.bits - 1)), pbits: Int32(p.bits), delta: p.delta,
            t1: LogQuantizer.t1, t3: LogQuantizer.t3, table: nil, sqrt2: Float(2.0.squareRoot()))
        return IntegerAttentionPlan(pre: pre, quant: quant, table: p.levelValues + [0])
    }

    /// The integer form of the attention at `pre` (see `attentionPlan`), or nil.
    /// - qkv: (B, N, 3·H·hd), bias: (H, N, N) or nil, mask: (nW, N, N) or nil → (B, N, H·hd)
    public func integerAttention(_ pre: String, qkv: Tensor, heads: Int, scale: Float, bias: Tensor?, mask: Tensor?) throws -> Tensor? {
        guard qkv.rank == 3, qkv.shape[2] % (3 * heads) == 0,
              let plan = attentionPlan(pre, inputRequiresGrad: qkv.requiresGrad || bias?.requiresGrad == true),
              let (nW, maskUsed) = attentionMasks(batch: qkv.shape[0], n: qkv.shape[1], heads: heads, bias: bias, mask: mask) else { return nil }
        let (b, n) = (qkv.shape[0], qkv.shape[1]), hd = qkv.shape[2] / (3 * heads)
        let context = Tensor(uninitialized: [b, n, heads * hd])
        let (qp, cp, bp) = (qkv.ptr, context.ptr, bias?.ptr)
        var failure: Error?
        Parallel.forRange(b * heads, grain: 1) { r in
            do { try plan.run(qp, cp, n: n, heads: heads, hd: hd, scale: scale, bias: bp, mask: maskUsed, nW: nW, items: r, b0: 0) }
            catch { failure = error }
        }
        if let failure { throw failure }
        return context
    }

    /// A block's whole attention in integers, one group of images (or windows) at a time with
    /// their qkv rows and context in per-thread buffers: qkv projection, attention, output
    /// projection and the residual; nil unless all three take the integer path.
    /// - y: (B, N, D), qkv: (3D, D), proj: (D, D), bias: (H, N, N) or nil, mask: (nW, N, N) or nil,
    ///   residual: (B, N, D) or nil → residual + proj(attention(qkv(y)))
    public func integerAttentionBlock(_ pre: String, _ y: Tensor, qkv: Tensor, qkvBias: Tensor?, proj: Tensor, projBias: Tensor?,
                                      heads: Int, scale: Float, bias: Tensor?, mask: Tensor?, residual: Tensor?) throws -> Tensor? {
        guard y.rank == 3, let qkvPlan = integerPlan(pre + "attn.qkv", weight: qkv, bias: qkvBias, inputRequiresGrad: y.requiresGrad),
              let projPlan = integerPlan(pre + "attn.proj", weight: proj, bias: projBias, inputRequiresGrad: false),
              let plan = attentionPlan(pre, inputRequiresGrad: bias?.requiresGrad == true),
              y.shape[2] == qkvPlan.k, qkvPlan.n == 3 * projPlan.k, qkvPlan.n % (3 * heads) == 0,
              let (nW, maskUsed) = attentionMasks(batch: y.shape[0], n: y.shape[1], heads: heads, bias: bias, mask: mask) else { return nil }
        let (b, n, d) = (y.shape[0], y.shape[1], y.shape[2]), dOut = projPlan.n
        let hd = qkvPlan.n / (3 * heads), inner = qkvPlan.n / 3
        if let residual, residual.shape != [b, n, dOut] { return nil }
        let out = Tensor(uninitialized: [b, n, dOut])
        let (yp, op, rp, bp) = (y.ptr, out.ptr, residual?.ptr, bias?.ptr)
        let group = Swift.max(1, 256 / Swift.max(1, n))  // images per step: about 256 rows
        var failure: Error?
        Parallel.forBlocks(b, block: group) { images in  // claimed one group at a time
            guard let qkvRaw = ck_scratch(Int32(CK_SCRATCH_BLOCK_QKV), group * n * qkvPlan.n * MemoryLayout<Float>.size),
                  let ctxRaw = ck_scratch(Int32(CK_SCRATCH_BLOCK_CONTEXT), group * n * inner * MemoryLayout<Float>.size) else {
                failure = QuantError.argument("integer attention '\(pre)': out of memory"); return
            }
            let qkvRows = qkvRaw.assumingMemoryBound(to: Float.self), ctxRows = ctxRaw.assumingMemoryBound(to: Float.self)
            do {
                for start in stride(from: images.lowerBound, to: images.upperBound, by: group) {
                    let count = Swift.min(group, images.upperBound - start), rows = count * n
                    try qkvPlan.run(rows: rows, yp + start * n * d, qkvRows, residual: nil, gelu: false)
                    try plan.run(qkvRows, ctxRows, n: n, heads: heads, hd: hd, scale: scale, bias: bp, mask: maskUsed, nW: nW,
                                 items: 0..<(count * heads), b0: start)
                    try projPlan.run(rows: rows, ctxRows, op + start * n * dOut, residual: rp.map { $0 + start * n * dOut }, gelu: false)
                }
            } catch { failure = error }
        }
        if let failure { throw failure }
        return out
    }

    /// The window count and the mask the kernel reads (the fake path adds the mask only beside a
    /// bias), or nil when the shapes do not fit. - bias: (H, N, N), mask: (nW, N, N)
    private func attentionMasks(batch: Int, n: Int, heads: Int, bias: Tensor?, mask: Tensor?) -> (Int, UnsafePointer<Float>?)? {
        if let bias, bias.count != heads * n * n { return nil }
        let nW = mask?.shape[0] ?? 1
        if let mask, mask.count != nW * n * n || batch % nW != 0 { return nil }
        return (nW, bias == nil ? nil : mask.map { UnsafePointer($0.ptr) })
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
