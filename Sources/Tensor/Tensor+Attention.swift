import CKernels

/// Multi-head attention read straight from a fused qkv projection.
extension Tensor {
    /// The attention probabilities and the merged-head context of timm's `Attention.forward`, in
    /// two ops whose forward and backward run per (item, head) in C (`CKernels/attention.c`):
    ///
    ///     P = softmax(scale·Q·Kᵀ + bias[h] + mask[b mod nW])     (B, H, N, N)
    ///     context = P·V, heads merged                             (B, N, H·hd)
    ///
    /// - qkv: (B, N, 3·H·hd), read as (B, N, 3, H, hd) as timm reshapes it
    /// - bias: (H, N, N) or nil, added to the scaled scores (Swin's relative position bias); differentiable
    /// - mask: (nW, N, N) or nil, a constant (Swin's shifted-window mask); item b uses window b mod nW
    ///
    /// Why fused: Q, K and V are read where the qkv GEMM wrote them and the context is written in
    /// the layout the projection reads, so the split-heads and merge-heads copies (and their
    /// gradients) disappear, and the many tiny per-head products (Swin: 16 tokens, hd 16) run in a
    /// register-blocked kernel instead of one library GEMM call each. P is an op of its own, so a
    /// loss on the attention maps (APA) backpropagates through it like any tensor.
    public static func attention(qkv: Tensor, heads: Int, scale: Float, bias: Tensor? = nil, mask: Tensor? = nil) throws -> (probs: Tensor, context: Tensor) {
        guard qkv.rank == 3, heads > 0, qkv.shape[2] % (3 * heads) == 0, qkv.shape[2] > 0 else {
            throw TensorError.shape(op: "attention", message: "qkv \(shapeString(qkv.shape)) is not (B, N, 3·H·hd) for \(heads) heads")
        }
        let (b, n) = (qkv.shape[0], qkv.shape[1])
        let hd = qkv.shape[2] / (3 * heads), d = heads * hd
        if let bias, bias.shape != [heads, n, n] {
            throw TensorError.shape(op: "attention", message: "bias \(shapeString(bias.shape)) vs (H, N, N) = \(shapeString([heads, n, n]))")
        }
        var nW = 1
        if let mask {
            guard mask.rank == 3, mask.shape[1] == n, mask.shape[2] == n, mask.shape[0] > 0, b % mask.shape[0] == 0 else {
                throw TensorError.shape(op: "attention", message: "mask \(shapeString(mask.shape)) vs (nW, N, N) with nW dividing the batch \(b), N = \(n)")
            }
            nW = mask.shape[0]
        }
        let items = b * heads, nn = n * n
        let probs = Tensor(uninitialized: [b, heads, n, n])
        let context = Tensor(uninitialized: [b, n, d])
        Parallel.forRange(items, grain: 1) { r in
            ck_attention_forward(qkv.ptr, bias?.ptr, mask?.ptr, nW, probs.ptr, context.ptr, n, heads, hd, scale, r.lowerBound, r.upperBound)
        }
        // unowned: the closure is stored in probs itself (a strong capture would be a cycle that
        // keeps every recorded forward alive until a backward that may never come).
        probs.record("attention_probs", bias.map { [qkv, $0] } ?? [qkv]) { [unowned probs] g in
            // dS = P ⊙ (g − rowsum(g ⊙ P)); dQ = scale·dS·K, dK = scale·dSᵀ·Q; dbias[h] = Σ_b dS.
            let gqkv = qkv.requiresGrad ? qkv.gradBuffer() : nil
            let wantBias = bias?.requiresGrad ?? false
            let gscores = wantBias ? Storage(count: items * nn) : nil
            Parallel.forRange(items, grain: 1) { r in
                ck_attention_backward_probs(qkv.ptr, probs.ptr, g, gqkv, gscores?.ptr, n, heads, hd, scale, r.lowerBound, r.upperBound)
            }
            if let bias, let gscores {
                let gb = bias.gradBuffer(), s = gscores.ptr
                Parallel.forRange(heads * nn, grain: 4096) { r in
                    for e in r {
                        let hh = e / nn, off = e % nn
                        var acc: Float = 0
                        for bi in 0..<b { acc += s[(bi * heads + hh) * nn + off] }
                        gb[e] += acc
                    }
                }
            }
        }
        context.record("attention_context", [probs, qkv]) { g in
            // dP (+)= g·Vᵀ, dV += Pᵀ·g.
            var gprobs: UnsafeMutablePointer<Float>? = nil, accP = false
            if probs.requiresGrad { (gprobs, accP) = probs.gradDestination() }
            let gqkv = qkv.requiresGrad ? qkv.gradBuffer() : nil
            Parallel.forRange(items, grain: 1) { r in
                ck_attention_backward_context(qkv.ptr, probs.ptr, g, gprobs, accP ? 1 : 0, gqkv, n, heads, hd, r.lowerBound, r.upperBound)
            }
        }
        return (probs, context)
    }
}
