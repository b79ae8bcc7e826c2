import Tensor

/// timm's `VisionTransformer` (ViT and DeiT): patch embedding, class token, learned position
/// embedding, pre-norm blocks (attention + GELU MLP), final LayerNorm, head on the class token.
/// A distilled DeiT (`config.distilled`) has a distillation token after the class token and a
/// second head, `head_dist`, on it. Key names follow timm's state dict exactly.
public final class VisionTransformer: VisionModel {
    public let config: ViTConfig
    public let params: Parameters
    public var architecture: Architecture { .vit(config) }

    public init(_ config: ViTConfig, params: Parameters) {
        self.config = config; self.params = params
    }

    /// A randomly initialised model (seeded; timm's init scheme).
    public convenience init(_ c: ViTConfig, seed: UInt64) {
        var rng = RNG(seed: seed)
        let p = Parameters()
        let d = c.embedDim, hid = c.mlpHidden
        p.add("cls_token", Tensor.normal([1, 1, d], std: 1e-6, rng: &rng))
        if c.distilled { p.add("dist_token", truncNormal([1, 1, d], std: 0.02, rng: &rng)) }
        p.add("pos_embed", truncNormal([1, c.numPatches + c.prefixTokens, d], std: 0.02, rng: &rng))
        let fanIn = Float(c.inChans * c.patchSize * c.patchSize)
        p.add("patch_embed.proj.weight", Tensor.uniform([d, c.inChans, c.patchSize, c.patchSize], low: -1 / fanIn.squareRoot(), high: 1 / fanIn.squareRoot(), rng: &rng))
        p.add("patch_embed.proj.bias", Tensor.zeros([d]))
        for l in 0..<c.depth {
            let b = "blocks.\(l)."
            p.add(b + "norm1.weight", Tensor.ones([d])); p.add(b + "norm1.bias", Tensor.zeros([d]))
            p.add(b + "attn.qkv.weight", truncNormal([3 * d, d], std: 0.02, rng: &rng))
            if c.qkvBias { p.add(b + "attn.qkv.bias", Tensor.zeros([3 * d])) }
            p.add(b + "attn.proj.weight", truncNormal([d, d], std: 0.02, rng: &rng)); p.add(b + "attn.proj.bias", Tensor.zeros([d]))
            p.add(b + "norm2.weight", Tensor.ones([d])); p.add(b + "norm2.bias", Tensor.zeros([d]))
            p.add(b + "mlp.fc1.weight", truncNormal([hid, d], std: 0.02, rng: &rng)); p.add(b + "mlp.fc1.bias", Tensor.zeros([hid]))
            p.add(b + "mlp.fc2.weight", truncNormal([d, hid], std: 0.02, rng: &rng)); p.add(b + "mlp.fc2.bias", Tensor.zeros([d]))
        }
        p.add("norm.weight", Tensor.ones([d])); p.add("norm.bias", Tensor.zeros([d]))
        p.add("head.weight", truncNormal([c.numClasses, d], std: 0.02, rng: &rng)); p.add("head.bias", Tensor.zeros([c.numClasses]))
        if c.distilled {
            p.add("head_dist.weight", truncNormal([c.numClasses, d], std: 0.02, rng: &rng)); p.add("head_dist.bias", Tensor.zeros([c.numClasses]))
        }
        self.init(c, params: p)
    }

    public var blockNames: [String] { (0..<config.depth).map { "blocks.\($0)" } }

    public func clone() -> VisionModel { VisionTransformer(config, params: params.copy()) }

    /// Tokens after patch embedding, class (and distillation) token and position embedding.
    /// - x: (B, C, H, W) → (B, P+N, D), P = `config.prefixTokens`
    public func embed(_ x: Tensor, hooks: ForwardHooks?) throws -> Tensor {
        let c = config
        guard x.rank == 4, x.shape[1] == c.inChans, x.shape[2] == c.imgSize[0], x.shape[3] == c.imgSize[1] else {
            throw ModelError.input("expected images (B, \(c.inChans), \(c.imgSize[0]), \(c.imgSize[1])), got \(shapeString(x.shape))")
        }
        let b = x.shape[0]
        let patches = try hookedPatchEmbed(x, params, hooks)                                     // (B, N, D)
        let cls = try params["cls_token"] + Tensor.zeros([b, 1, c.embedDim])                    // (B, 1, D)
        guard c.distilled else { return try Tensor.concat([cls, patches], axis: 1) + params["pos_embed"] }
        let dist = try params["dist_token"] + Tensor.zeros([b, 1, c.embedDim])                  // (B, 1, D)
        return try Tensor.concat([cls, dist, patches], axis: 1) + params["pos_embed"]
    }

    /// One pre-norm block: x + attn(norm1(x)), then + mlp(norm2(x)). - x: (B, N, D)
    func block(_ l: Int, _ x: Tensor, hooks: ForwardHooks?, out: inout ModelOutput?, capture: Capture) throws -> Tensor {
        let c = config, p = params, pre = "blocks.\(l)."
        let y = try x.layerNorm(weight: p[pre + "norm1.weight"], bias: p[pre + "norm1.bias"], eps: c.eps)
        let x1 = try hookedAttentionBlock(y, p, pre, heads: c.numHeads, bias: nil, mask: nil, residual: x, hooks,
                                          out: &out, capture: capture)                             // x + proj(attn(qkv(·)))
        let y2 = try x1.layerNorm(weight: p[pre + "norm2.weight"], bias: p[pre + "norm2.bias"], eps: c.eps)
        return try hookedMLP(y2, p, pre, hooks, residual: x1)                                    // x1 + fc2(GELU(fc1(·)))
    }

    public func forwardBlock(_ index: Int, _ x: Tensor, hooks: ForwardHooks?) throws -> Tensor {
        var none: ModelOutput? = nil
        return try block(index, x, hooks: hooks, out: &none, capture: [])
    }

    /// Final norm, class-token pooling and head. - x: (B, P+N, D) → (features (B, D), logits (B, classes)).
    /// Distilled: the features are the mean of the two tokens, the logits the mean of the two heads
    /// (timm's eval-mode `forward_head`).
    public func head(_ x: Tensor, hooks: ForwardHooks?) throws -> (Tensor, Tensor) {
        let y = try x.layerNorm(weight: params["norm.weight"], bias: params["norm.bias"], eps: config.eps)
        let cls = try y.slice(axis: 1, start: 0, end: 1).reshape([x.shape[0], config.embedDim])
        guard config.distilled else { return (cls, try hookedLinear(cls, params, "head", hooks)) }
        let dist = try y.slice(axis: 1, start: 1, end: 2).reshape([x.shape[0], config.embedDim])
        let logits = try (hookedLinear(cls, params, "head", hooks) + hookedLinear(dist, params, "head_dist", hooks)) * 0.5
        return (try (cls + dist) * 0.5, logits)
    }

    public func forward(_ x: Tensor, capture: Capture, hooks: ForwardHooks?) throws -> ModelOutput {
        var h = try embed(x, hooks: hooks)
        var out: ModelOutput? = ModelOutput(logits: h, features: h)
        for l in 0..<config.depth {
            if capture.contains(.blockIO) { out!.blockInputs.append(h) }
            h = try block(l, h, hooks: hooks, out: &out, capture: capture)
            if capture.contains(.blockIO) { out!.blockOutputs.append(h) }
        }
        let (f, logits) = try head(h, hooks: hooks)
        out!.features = f; out!.logits = logits
        return out!
    }
}
