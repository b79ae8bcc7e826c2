import Tensor

/// Forward on a subset of the patch tokens (Sparse Model Inversion's sparse passes).
extension VisionTransformer {
    /// The class token's attention to the patches in the last block, mean over heads, per image:
    /// what SMI ranks the patches by. - probs: the last block's (B, H, 1+K, 1+K) → B lists of K
    /// weights, in the order of the kept tokens.
    public static func classAttention(_ probs: Tensor, prefixTokens: Int = 1) -> [[Float]] {
        let (b, h, n) = (probs.shape[0], probs.shape[1], probs.shape[2])
        return (0..<b).map { i in
            (prefixTokens..<n).map { j in
                var s: Float = 0
                for head in 0..<h { s += probs.ptr[((i * h + head) * n) * n + j] }  // row 0 = class token
                return s / Float(h)
            }
        }
    }

    /// Forward where image b runs on the class token and its patches `kept[b]` only (0-based
    /// patch indices, row-major on the grid, each list of the same length). The patch embedding and
    /// position embedding are those of the full image; the dropped tokens take no part in any
    /// block, so their pixels get no gradient through the model.
    /// - x: (B, C, H, W), kept: B lists of K patch indices → logits (B, classes); with
    ///   `.attention`, the probabilities (B, H, 1+K, 1+K) per block.
    public func forward(_ x: Tensor, keptPatches kept: [[Int]], capture: Capture) throws -> ModelOutput {
        guard kept.count == x.shape[0] else {
            throw ModelError.input("kept patches for \(kept.count) images, batch has \(x.shape[0])")
        }
        let n = config.numPatches
        for (b, k) in kept.enumerated() {
            if let bad = k.first(where: { !(0..<n).contains($0) }) {
                throw ModelError.input("kept patch \(bad) of image \(b) is outside the grid's \(n) patches")
            }
            guard Set(k).count == k.count else { throw ModelError.input("image \(b) keeps a patch twice") }
        }
        let p = config.prefixTokens
        var h = try embed(x, hooks: nil).gatherTokens(kept.map { Array(0..<p) + $0.map { $0 + p } })  // (B, P+K, D)
        var out: ModelOutput? = ModelOutput(logits: h, features: h)
        for l in 0..<config.depth {
            h = try block(l, h, hooks: nil, out: &out, capture: capture)
        }
        let (f, logits) = try head(h, hooks: nil)
        out!.features = f; out!.logits = logits
        return out!
    }
}
