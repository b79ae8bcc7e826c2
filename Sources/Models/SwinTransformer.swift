import Tensor

/// timm's current `SwinTransformer`: patch embedding with LayerNorm (tokens kept as (B, H, W, C)),
/// stages of window-attention blocks with relative position bias, shifted windows with masks on
/// odd blocks, patch merging at the start of stages 2+, final LayerNorm, average pool, `head.fc`.
/// The relative position index and the attention masks are computed here, never loaded.
public final class SwinTransformer: VisionModel {
    public let config: SwinConfig
    public let params: Parameters
    public var architecture: Architecture { .swin(config) }

    /// Geometry of one block: its stage, resolution, effective window and shift.
    public struct BlockGeometry {
        public let stage: Int, index: Int, name: String
        public let dim: Int, heads: Int
        public let height: Int, width: Int
        public let window: Int, shift: Int
        public var windows: Int { (height / window) * (width / window) }
    }
    public let geometry: [BlockGeometry]
    /// Per block: relative position index (N·N) and, for shifted blocks, the mask (nW, N, N).
    private var relIndex: [[Int]] = []
    private var masks: [Tensor?] = []

    public init(_ config: SwinConfig, params: Parameters) {
        self.config = config; self.params = params
        var geo: [BlockGeometry] = []
        var h = config.imgSize[0] / config.patchSize, w = config.imgSize[1] / config.patchSize
        for (s, depth) in config.depths.enumerated() {
            if s > 0 { h /= 2; w /= 2 }
            let dim = config.embedDim << s
            for b in 0..<depth {
                // timm: when the resolution is not larger than the window, use one window and no shift.
                var win = config.windowSize, shift = b % 2 == 1 ? config.windowSize / 2 : 0
                if Swift.min(h, w) <= win { win = Swift.min(h, w); shift = 0 }
                geo.append(BlockGeometry(stage: s, index: b, name: "layers.\(s).blocks.\(b)", dim: dim, heads: config.numHeads[s],
                                         height: h, width: w, window: win, shift: shift))
            }
        }
        geometry = geo
        relIndex = geo.map { SwinTransformer.relativePositionIndex($0.window) }
        masks = geo.map { $0.shift > 0 ? SwinTransformer.shiftMask($0) : nil }
    }

    /// A randomly initialised model (seeded).
    public convenience init(_ c: SwinConfig, seed: UInt64) {
        var rng = RNG(seed: seed)
        let p = Parameters()
        let fanIn = Float(c.inChans * c.patchSize * c.patchSize)
        p.add("patch_embed.proj.weight", Tensor.uniform([c.embedDim, c.inChans, c.patchSize, c.patchSize], low: -1 / fanIn.squareRoot(), high: 1 / fanIn.squareRoot(), rng: &rng))
        p.add("patch_embed.proj.bias", Tensor.zeros([c.embedDim]))
        p.add("patch_embed.norm.weight", Tensor.ones([c.embedDim])); p.add("patch_embed.norm.bias", Tensor.zeros([c.embedDim]))
        var h = c.imgSize[0] / c.patchSize, w = c.imgSize[1] / c.patchSize
        for (s, depth) in c.depths.enumerated() {
            let dim = c.embedDim << s
            if s > 0 {
                h /= 2; w /= 2
                let pre = "layers.\(s).downsample."
                p.add(pre + "norm.weight", Tensor.ones([2 * dim])); p.add(pre + "norm.bias", Tensor.zeros([2 * dim]))
                p.add(pre + "reduction.weight", truncNormal([dim, 2 * dim], std: 0.02, rng: &rng))
            }
            let win = Swift.min(c.windowSize, Swift.min(h, w)), hid = Int(Double(dim) * c.mlpRatio)
            for b in 0..<depth {
                let pre = "layers.\(s).blocks.\(b)."
                p.add(pre + "norm1.weight", Tensor.ones([dim])); p.add(pre + "norm1.bias", Tensor.zeros([dim]))
                p.add(pre + "attn.relative_position_bias_table", truncNormal([(2 * win - 1) * (2 * win - 1), c.numHeads[s]], std: 0.02, rng: &rng))
                p.add(pre + "attn.qkv.weight", truncNormal([3 * dim, dim], std: 0.02, rng: &rng))
                if c.qkvBias { p.add(pre + "attn.qkv.bias", Tensor.zeros([3 * dim])) }
                p.add(pre + "attn.proj.weight", truncNormal([dim, dim], std: 0.02, rng: &rng)); p.add(pre + "attn.proj.bias", Tensor.zeros([dim]))
                p.add(pre + "norm2.weight", Tensor.ones([dim])); p.add(pre + "norm2.bias", Tensor.zeros([dim]))
                p.add(pre + "mlp.fc1.weight", truncNormal([hid, dim], std: 0.02, rng: &rng)); p.add(pre + "mlp.fc1.bias", Tensor.zeros([hid]))
                p.add(pre + "mlp.fc2.weight", truncNormal([dim, hid], std: 0.02, rng: &rng)); p.add(pre + "mlp.fc2.bias", Tensor.zeros([dim]))
            }
        }
        let last = c.embedDim << (c.depths.count - 1)
        p.add("norm.weight", Tensor.ones([last])); p.add("norm.bias", Tensor.zeros([last]))
        p.add("head.fc.weight", truncNormal([c.numClasses, last], std: 0.02, rng: &rng)); p.add("head.fc.bias", Tensor.zeros([c.numClasses]))
        self.init(c, params: p)
    }

    /// Buffers that timm keeps in some state dicts but we compute.
    public static func isComputedBuffer(_ key: String) -> Bool {
        key.hasSuffix("relative_position_index") || key.hasSuffix("attn_mask")
    }

    public var blockNames: [String] { geometry.map(\.name) }
    public func clone() -> VisionModel { SwinTransformer(config, params: params.copy()) }

    /// Index into the bias table for every (query, key) pair of a ws×ws window, row-major.
    static func relativePositionIndex(_ ws: Int) -> [Int] {
        var idx: [Int] = []
        idx.reserveCapacity(ws * ws * ws * ws)
        for q in 0..<(ws * ws) { for k in 0..<(ws * ws) {
            let dy = q / ws - k / ws + ws - 1, dx = q % ws - k % ws + ws - 1
            idx.append(dy * (2 * ws - 1) + dx)
        } }
        return idx
    }

    /// Shifted-window mask (nW, N, N): 0 within a region, −100 across regions (as timm).
    static func shiftMask(_ g: BlockGeometry) -> Tensor {
        let (h, w, ws, s) = (g.height, g.width, g.window, g.shift)
        func region(_ i: Int, _ n: Int) -> Int { i < n - ws ? 0 : (i < n - s ? 1 : 2) }
        let nW = g.windows, n = ws * ws
        let m = Tensor.zeros([nW, n, n])
        var win = 0
        for wy in 0..<(h / ws) { for wx in 0..<(w / ws) {
            let labels = (0..<n).map { t in region(wy * ws + t / ws, h) * 3 + region(wx * ws + t % ws, w) }
            for i in 0..<n { for j in 0..<n where labels[i] != labels[j] { m.ptr[(win * n + i) * n + j] = -100 } }
            win += 1
        } }
        return m
    }

    /// Row order of the cyclic shift by −`shift` followed by the window partition, for (B, H, W, C)
    /// → (B·nW, ws·ws, C): output row ((b·nWy + wy)·nWx + wx)·ws² + ty·ws + tx takes input row
    /// (b, (wy·ws + ty + shift) mod H, (wx·ws + tx + shift) mod W), i.e. `torch.roll(x, −shift)`
    /// then timm's `window_partition`. Returns the order and its inverse (the window reverse
    /// followed by the roll back).
    static func windowOrder(batch b: Int, _ h: Int, _ w: Int, _ ws: Int, shift: Int) -> (perm: [Int], inverse: [Int]) {
        var perm = [Int](repeating: 0, count: b * h * w), inverse = perm
        var r = 0
        for bi in 0..<b { for wy in 0..<(h / ws) { for wx in 0..<(w / ws) { for ty in 0..<ws { for tx in 0..<ws {
            let src = (bi * h + (wy * ws + ty + shift) % h) * w + (wx * ws + tx + shift) % w
            perm[r] = src; inverse[src] = r; r += 1
        } } } } }
        return (perm, inverse)
    }

    /// Patch embedding and its norm. - x: (B, C, H, W) → (B, H/P, W/P, D)
    public func embed(_ x: Tensor, hooks: ForwardHooks?) throws -> Tensor {
        let c = config
        guard x.rank == 4, x.shape[1] == c.inChans, x.shape[2] == c.imgSize[0], x.shape[3] == c.imgSize[1] else {
            throw ModelError.input("expected images (B, \(c.inChans), \(c.imgSize[0]), \(c.imgSize[1])), got \(shapeString(x.shape))")
        }
        let t = try hookedPatchEmbed(x, params, hooks)
            .layerNorm(weight: params["patch_embed.norm.weight"], bias: params["patch_embed.norm.bias"], eps: c.eps)
        return try t.reshape([x.shape[0], c.imgSize[0] / c.patchSize, c.imgSize[1] / c.patchSize, c.embedDim])
    }

    /// Patch merging: 2×2 neighbours concatenated (timm order x00, x10, x01, x11), LayerNorm, linear.
    /// - x: (B, H, W, C) → (B, H/2, W/2, 2C)
    func merge(_ stage: Int, _ x: Tensor, hooks: ForwardHooks?) throws -> Tensor {
        let (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let pre = "layers.\(stage).downsample."
        let y = try x.reshape([b, h / 2, 2, w / 2, 2, c]).permute([0, 1, 3, 4, 2, 5]).reshape([b, h / 2, w / 2, 4 * c])
            .layerNorm(weight: params[pre + "norm.weight"], bias: params[pre + "norm.bias"], eps: config.eps)
        // timm's reduction has no bias; a bias is used when present (RepQ's fold adds one to a quantized clone).
        return try hookedLinear(y, params, pre + "reduction", hooks, bias: true)
    }

    /// One Swin block. - x: (B, H, W, C) → (B, H, W, C)
    func block(_ i: Int, _ x: Tensor, hooks: ForwardHooks?, out: inout ModelOutput?, capture: Capture) throws -> Tensor {
        let g = geometry[i], p = params, pre = g.name + "."
        let (b, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let ws = g.window, n = ws * ws, heads = g.heads, nW = g.windows
        let y = try x.layerNorm(weight: p[pre + "norm1.weight"], bias: p[pre + "norm1.bias"], eps: config.eps)
        let order = SwinTransformer.windowOrder(batch: b, h, w, ws, shift: g.shift)
        let win = try y.permuteRows(order.perm, inverse: order.inverse, to: [b * nW, n, c])           // (B·nW, N, C), shifted
        let bias = try p[pre + "attn.relative_position_bias_table"].indexSelect(axis: 0, indices: relIndex[i])
            .reshape([n, n, heads]).permute([2, 0, 1])                                               // (H, N, N)
        let x1 = try hookedAttentionBlock(win, p, pre, heads: heads, bias: bias, mask: masks[i], residual: nil, hooks,
                                          out: &out, capture: capture)                               // (B·nW, N, C); window reverse, roll back,
            .permuteRows(order.inverse, inverse: order.perm, to: [b, h, w, c], residual: x)          // + x: (B, H, W, C)
        let y2 = try x1.layerNorm(weight: p[pre + "norm2.weight"], bias: p[pre + "norm2.bias"], eps: config.eps)
        return try hookedMLP(y2, p, pre, hooks, residual: x1)                                       // x1 + fc2(GELU(fc1(·)))
    }

    /// Block `index` alone; the first block of stages 2+ includes the patch merging before it.
    public func forwardBlock(_ index: Int, _ x: Tensor, hooks: ForwardHooks?) throws -> Tensor {
        var none: ModelOutput? = nil
        let g = geometry[index]
        let xin = g.stage > 0 && g.index == 0 ? try merge(g.stage, x, hooks: hooks) : x
        return try block(index, xin, hooks: hooks, out: &none, capture: [])
    }

    public func forward(_ x: Tensor, capture: Capture, hooks: ForwardHooks?) throws -> ModelOutput {
        var h = try embed(x, hooks: hooks)
        var out: ModelOutput? = ModelOutput(logits: h, features: h)
        for i in 0..<geometry.count {
            if capture.contains(.blockIO) { out!.blockInputs.append(h) }
            let g = geometry[i]
            if g.stage > 0 && g.index == 0 { h = try merge(g.stage, h, hooks: hooks) }
            h = try block(i, h, hooks: hooks, out: &out, capture: capture)
            if capture.contains(.blockIO) { out!.blockOutputs.append(h) }
        }
        let y = try h.layerNorm(weight: params["norm.weight"], bias: params["norm.bias"], eps: config.eps)
        let pooled = try y.mean(axes: [1, 2])                                                         // (B, C)
        out!.features = pooled
        out!.logits = try hookedLinear(pooled, params, "head.fc", hooks)
        return out!
    }
}
