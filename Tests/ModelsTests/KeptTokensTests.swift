import Testing
@testable import Models
import Tensor

/// SMI's sparse forward: a ViT run on the class token and a subset of its patches.
@Suite struct KeptTokensTests {
    /// A small random DeiT-like model (1 channel, 16×16 in patches of 4: 16 patches).
    static func model() -> VisionTransformer {
        VisionTransformer(ViTConfig(imgSize: [16, 16], patchSize: 4, inChans: 1, numClasses: 5, embedDim: 24, depth: 3, numHeads: 2), seed: 7)
    }
    static func images(_ b: Int) -> Tensor { var r = RNG(seed: 3); return Tensor.normal([b, 1, 16, 16], rng: &r) }

    /// The reference: the full forward with every dropped key masked out of every attention (an
    /// additive −1e9 per image), written from the engine's public ops. A kept token then never
    /// mixes with a dropped one, so its path (the class token's above all) is the sparse forward's.
    static func maskedForward(_ m: VisionTransformer, _ x: Tensor, kept: [[Int]]) throws -> Tensor {
        let c = m.config, p = m.params, b = x.shape[0], n = c.numPatches + 1
        let mask = Tensor.zeros([b, n, n])
        for i in 0..<b {
            let keep = Set([0] + kept[i].map { $0 + 1 })
            for q in 0..<n { for k in 0..<n where !keep.contains(k) { mask.ptr[(i * n + q) * n + k] = -1e9 } }
        }
        var h = try m.embed(x, hooks: nil)
        for l in 0..<c.depth {
            let pre = "blocks.\(l)."
            let y = try h.layerNorm(weight: p[pre + "norm1.weight"], bias: p[pre + "norm1.bias"], eps: c.eps)
            let qkv = try y.linear(weight: p[pre + "attn.qkv.weight"], bias: p[pre + "attn.qkv.bias"])
            let hd = c.embedDim / c.numHeads
            let ctx = try Tensor.attention(qkv: qkv, heads: c.numHeads, scale: 1 / Float(hd).squareRoot(), mask: mask).context
            let x1 = try h + ctx.linear(weight: p[pre + "attn.proj.weight"], bias: p[pre + "attn.proj.bias"])
            let y2 = try x1.layerNorm(weight: p[pre + "norm2.weight"], bias: p[pre + "norm2.bias"], eps: c.eps)
            let hid = try y2.linear(weight: p[pre + "mlp.fc1.weight"], bias: p[pre + "mlp.fc1.bias"]).gelu()
            h = try x1 + hid.linear(weight: p[pre + "mlp.fc2.weight"], bias: p[pre + "mlp.fc2.bias"])
        }
        return try m.head(h, hooks: nil).1
    }

    static func maxDiff(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.array, b.array).map { Swift.abs($0 - $1) }.max() ?? 0
    }

    @Test func everyPatchKeptIsTheFullForward() throws {
        let m = Self.model(), x = Self.images(2)
        let all = Array(0..<m.config.numPatches)
        let full = try m.forward(x), sparse = try m.forward(x, keptPatches: [all, all], capture: []).logits
        #expect(Self.maxDiff(full, sparse) < 1e-5, "full \(full.array)\nsparse \(sparse.array)")
    }

    @Test func classTokenPathEqualsTheMaskedFullForward() throws {
        let m = Self.model(), x = Self.images(2)
        // Different patches, in a different order, per image: 6 of 16 kept.
        let kept = [[0, 5, 6, 9, 10, 15], [14, 2, 7, 3, 11, 8]]
        let sparse = try m.forward(x, keptPatches: kept, capture: []).logits
        let reference = try Self.maskedForward(m, x, kept: kept)
        #expect(Self.maxDiff(reference, sparse) < 1e-4, "masked full \(reference.array)\nsparse \(sparse.array)")
        // And it is not the unpruned forward (the pruning changes the result).
        #expect(Self.maxDiff(try m.forward(x), sparse) > 1e-3)
    }

    @Test func droppedPatchesGetNoGradient() throws {
        let m = Self.model(), x = Self.images(2)
        x.requiresGrad = true
        let kept = [[1, 4, 12], [0, 15, 6]]
        try m.forward(x, keptPatches: kept, capture: []).logits.sum().backward()
        let g = try #require(x.grad).array, p = m.config.patchSize, grid = m.config.grid.w
        for b in 0..<2 {
            for patch in 0..<m.config.numPatches {
                let (py, px) = (patch / grid, patch % grid)
                var mass: Float = 0
                for yy in 0..<p { for xx in 0..<p { mass += Swift.abs(g[b * 256 + (py * p + yy) * 16 + px * p + xx]) } }
                if kept[b].contains(patch) { #expect(mass > 0, "kept patch \(patch) of image \(b) got no gradient") }
                else { #expect(mass == 0, "dropped patch \(patch) of image \(b) got gradient \(mass)") }
            }
        }
    }

    @Test func classAttentionRanksThePatches() throws {
        let m = Self.model(), x = Self.images(1)
        let out = try m.forward(x, keptPatches: [[2, 3, 9]], capture: [.attention])
        let w = VisionTransformer.classAttention(try #require(out.attention.last))
        #expect(w.count == 1 && w[0].count == 3)
        #expect(w[0].allSatisfy { $0 > 0 && $0 < 1 } && w[0].reduce(0, +) < 1)  // the class token keeps some mass
    }

    @Test func badKeptListsAreRefused() throws {
        let m = Self.model(), x = Self.images(2)
        #expect(throws: ModelError.self) { try m.forward(x, keptPatches: [[0, 1]], capture: []) }
        #expect(throws: ModelError.self) { try m.forward(x, keptPatches: [[0, 16], [1, 2]], capture: []) }
        #expect(throws: ModelError.self) { try m.forward(x, keptPatches: [[0, 0], [1, 2]], capture: []) }
        #expect(throws: (any Error).self) { try m.forward(x, keptPatches: [[0, 1], [1]], capture: []) }
    }
}
