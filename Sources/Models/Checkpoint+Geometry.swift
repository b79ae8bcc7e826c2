import Foundation
import Tensor

/// The geometry of a timm checkpoint read from its state dict's shapes, for checkpoints of sizes no
/// preset has (`model("vit", weights: "f.safetensors")`).
///
/// ViT/DeiT: patch size and channels from `patch_embed.proj.weight` (D, C, P, P), width D, depth
/// from the `blocks.N` indices, MLP ratio from `blocks.0.mlp.fc1.weight`, classes from
/// `head.weight`, the patch grid from `pos_embed` (1, 1 + gh·gw, D) (square unless `imgSize` says
/// otherwise). Heads are not in the shapes: `heads`, else timm's default of one head per 64 channels
/// (192 → 3, 384 → 6, 768 → 12). Swin: stages and depths from the `layers.S.blocks.B` indices,
/// window and heads per stage from `relative_position_bias_table` ((2w − 1)², heads), classes from
/// `head.fc.weight`; the image size is not in a Swin state dict: `imgSize`, else 224 (timm's).
public struct CheckpointGeometry {
    public var heads: Int?
    public var imgSize: [Int]?
    public init(heads: Int? = nil, imgSize: [Int]? = nil) { self.heads = heads; self.imgSize = imgSize }

    /// The architecture of `family` ("vit", "deit" or "swin") that fits the shapes, or an error
    /// naming the first key or shape that does not fit.
    public func architecture(family: String, shapes: [String: [Int]], file: String) throws -> Architecture {
        func need(_ key: String, rank: Int) throws -> [Int] {
            guard let s = shapes[key] else { throw ModelError.config("\(file): no '\(key)': not a timm \(family) state dict") }
            guard s.count == rank else { throw ModelError.config("\(file): '\(key)' has shape \(s), expected rank \(rank)") }
            return s
        }
        func count(_ prefix: String) -> Int {
            let ids = shapes.keys.compactMap { k -> Int? in
                guard k.hasPrefix(prefix) else { return nil }
                return Int(k.dropFirst(prefix.count).prefix { $0.isNumber })
            }
            return (ids.max() ?? -1) + 1
        }
        let pe = try need("patch_embed.proj.weight", rank: 4)
        let (dim, chans, patch) = (pe[0], pe[1], pe[2])
        guard pe[2] == pe[3] else { throw ModelError.config("\(file): 'patch_embed.proj.weight' has shape \(pe): non-square patches are not supported") }
        switch family {
        case "vit", "deit":
            // A distillation token means timm's VisionTransformerDistilled: two prefix tokens, two heads.
            let distilled = shapes["dist_token"] != nil
            if distilled { _ = try need("head_dist.weight", rank: 2) }
            let depth = count("blocks.")
            guard depth > 0 else { throw ModelError.config("\(file): no 'blocks.0.*' keys: not a timm ViT state dict") }
            let fc1 = try need("blocks.0.mlp.fc1.weight", rank: 2)
            let head = try need("head.weight", rank: 2)
            let pos = try need("pos_embed", rank: 3)
            guard shapes["cls_token"] != nil else { throw ModelError.config("\(file): no 'cls_token': only class-token ViTs are supported") }
            let patches = pos[1] - (distilled ? 2 : 1)
            let size: [Int]
            if let s = imgSize {
                size = s
            } else {
                let g = Int(Double(patches).squareRoot().rounded())
                guard g * g == patches else {
                    throw ModelError.config("\(file): 'pos_embed' has \(patches) patch positions, not a square grid (model(\"vit\") reads square inputs; give img_size: for another side)")
                }
                size = [g * patch, g * patch]
            }
            guard size.count == 2, (size[0] / patch) * (size[1] / patch) == patches else {
                throw ModelError.config("\(file): 'pos_embed' has \(patches) patch positions; img_size \(size) in patches of \(patch) gives \((size.first ?? 0) / patch)×\((size.last ?? 0) / patch)")
            }
            let h = heads ?? (dim % 64 == 0 ? dim / 64 : 0)
            guard h > 0 else { throw ModelError.config("\(file): width \(dim) is not a multiple of 64 (timm's default head width): give heads:") }
            return .vit(ViTConfig(imgSize: size, patchSize: patch, inChans: chans, numClasses: head[0], embedDim: dim, depth: depth,
                                  numHeads: h, mlpRatio: Double(fc1[0]) / Double(dim), qkvBias: shapes["blocks.0.attn.qkv.bias"] != nil,
                                  distilled: distilled))
        case "swin":
            let stages = count("layers.")
            guard stages > 0 else { throw ModelError.config("\(file): no 'layers.0.*' keys: not a timm Swin state dict") }
            var depths: [Int] = [], numHeads: [Int] = [], window = 0
            for s in 0..<stages {
                let d = count("layers.\(s).blocks.")
                guard d > 0 else { throw ModelError.config("\(file): stage \(s) has no 'layers.\(s).blocks.0.*' keys") }
                let table = try need("layers.\(s).blocks.0.attn.relative_position_bias_table", rank: 2)
                let side = Int(Double(table[0]).squareRoot().rounded())
                guard side * side == table[0], side % 2 == 1 else {
                    throw ModelError.config("\(file): 'layers.\(s).blocks.0.attn.relative_position_bias_table' has \(table[0]) rows, not (2w − 1)²")
                }
                // timm clips the window to a stage's resolution: the largest one is the configured window.
                window = Swift.max(window, (side + 1) / 2)
                depths.append(d); numHeads.append(table[1])
            }
            let fc1 = try need("layers.0.blocks.0.mlp.fc1.weight", rank: 2)
            let head = try need("head.fc.weight", rank: 2)
            let size = imgSize ?? [224, 224]
            guard size.count == 2 else { throw ModelError.config("\(file): img_size must be [H, W], got \(size)") }
            return .swin(SwinConfig(imgSize: size, patchSize: patch, inChans: chans, numClasses: head[0], embedDim: dim, depths: depths,
                                    numHeads: numHeads, windowSize: window, mlpRatio: Double(fc1[0]) / Double(dim),
                                    qkvBias: shapes["layers.0.blocks.0.attn.qkv.bias"] != nil))
        default:
            throw ModelError.config("unknown model family '\(family)': expected vit, deit or swin")
        }
    }
}

extension ModelFactory {
    /// A timm checkpoint of any ViT/DeiT/Swin geometry: the architecture from its shapes (overridden
    /// by `geometry`), then a strict load that names every missing, unexpected or mis-shaped key.
    public static func load(timm path: String, family: String, geometry: CheckpointGeometry = CheckpointGeometry()) throws -> VisionModel {
        let file = try Safetensors.read(path: path)
        let state = file.tensors.filter { !$0.name.hasPrefix("__") }
        var shapes: [String: [Int]] = [:]
        for (k, t) in state { shapes[k] = t.shape }
        let arch = try geometry.architecture(family: family, shapes: shapes, file: path)
        do { try arch.validate() } catch { throw ModelError.config("\(path): the geometry read from the shapes does not build: \(error)") }
        let model = build(arch)
        try model.params.load(state.map { ($0.name, $0.tensor) }, file: path, ignoring: SwinTransformer.isComputedBuffer)
        return model
    }
}
