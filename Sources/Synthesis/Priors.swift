import Foundation
import Tensor
import Models

/// What synthesis needs to know about a model's blocks: heads and the token grid whose attention
/// APA aligns (ViT: the patch grid with one "window"; Swin: the stage grid, window and shift).
public struct BlockInfo: Equatable {
    public let index: Int
    public let heads: Int
    public let gridH: Int, gridW: Int
    public let window: Int, shift: Int
    /// Windows per image in the attention tensors (1 for ViT).
    public var windows: Int { window == 0 ? 1 : (gridH / window) * (gridW / window) }
    /// Positions of the attention map, `gridH·gridW`.
    public var tokens: Int { gridH * gridW }
}

/// A model's shape as synthesis sees it.
public struct ModelInfo {
    public let family: String
    /// True for ViT/DeiT (token 0 is the class token).
    public let classToken: Bool
    /// Tokens before the patches: 1 (class token), 2 for a distilled DeiT, 0 for Swin.
    public let prefixTokens: Int
    /// (C, H, W)
    public let inputShape: [Int]
    public let numClasses: Int
    public let blocks: [BlockInfo]

    public init(_ model: VisionModel) {
        let a = model.architecture
        family = a.family
        inputShape = a.inputShape
        numClasses = a.numClasses
        switch a {
        case .vit(let c):
            classToken = true
            prefixTokens = c.prefixTokens
            blocks = (0..<c.depth).map { BlockInfo(index: $0, heads: c.numHeads, gridH: c.grid.h, gridW: c.grid.w, window: 0, shift: 0) }
        case .swin:
            classToken = false
            prefixTokens = 0
            let geo = (model as? SwinTransformer)?.geometry ?? SwinTransformer((a.swinConfig)!, params: Parameters()).geometry
            blocks = geo.enumerated().map { i, g in
                BlockInfo(index: i, heads: g.heads, gridH: g.height, gridW: g.width, window: g.window, shift: g.shift)
            }
        }
    }

    /// The APA map of one block from its captured probabilities (images `first ..< first + batch`).
    /// - probs: ViT (B', H, N, N); Swin (B'·nW, H, w², w²) with B' ≥ first + batch → (batch, H, T)
    public func attentionMap(block l: Int, probs: Tensor, batch: Int, first: Int = 0) throws -> Tensor {
        let info = blocks[l]
        let perImage = classToken ? 1 : info.windows
        let rows = batch * perImage
        let p = probs.shape[0] == rows && first == 0 ? probs : try probs.slice(axis: 0, start: first * perImage, end: (first + batch) * perImage)
        if classToken { return try Losses.classTokenMap(p, prefixTokens: prefixTokens) }
        return try Losses.windowMap(p, batch: batch, height: info.gridH, width: info.gridW, window: info.window, shift: info.shift)
    }
}

extension Architecture {
    var swinConfig: SwinConfig? { if case .swin(let c) = self { return c }; return nil }
}

/// The kind of structure prior APA aligns the attention to (Table 4 of the paper).
public enum PriorKind: String, CaseIterable, Codable {
    /// Gaussian mixture on the patch grid (the default).
    case gmm
    /// The same mixture with Laplace kernels.
    case laplace
    /// The model's own attention maps on real images.
    case real
}

/// Random attention priors (METHOD §3). [decision] Each of the K components has its mean uniform
/// over the grid (continuous coordinates, patch centres at i + 0.5), per-axis standard deviations
/// uniform in [0.5, max(0.5, side/3)] patch units, a rotation uniform in [0, π), and mixture
/// weights from a flat Dirichlet (normalised Exp(1) draws). The density is evaluated at the patch
/// centres and normalised to sum 1. The Laplace variant uses exp(−|u|/b₁ − |v|/b₂) in the rotated
/// frame with b = σ/√2 (the same variance as the Gaussian).
public enum Priors {
    /// One prior map on a gh×gw grid, row-major, summing to 1 (Double internally).
    public static func draw(kind: PriorKind, components: Int, gridH gh: Int, gridW gw: Int, rng: inout RNG) -> [Float] {
        var dens = [Double](repeating: 0, count: gh * gw)
        for _ in 0..<Swift.max(1, components) {
            let my = rng.nextDouble() * Double(gh), mx = rng.nextDouble() * Double(gw)
            let s1 = 0.5 + rng.nextDouble() * Swift.max(0, Double(gh) / 3 - 0.5)
            let s2 = 0.5 + rng.nextDouble() * Swift.max(0, Double(gw) / 3 - 0.5)
            let theta = rng.nextDouble() * Double.pi
            let weight = -Foundation.log(Swift.max(rng.nextDouble(), 1e-300))
            let (c, s) = (Foundation.cos(theta), Foundation.sin(theta))
            for i in 0..<gh { for j in 0..<gw {
                let dy = Double(i) + 0.5 - my, dx = Double(j) + 0.5 - mx
                let u = c * dx + s * dy, v = -s * dx + c * dy
                let k: Double
                if kind == .laplace {
                    let b1 = s1 / 2.0.squareRoot(), b2 = s2 / 2.0.squareRoot()
                    k = Foundation.exp(-(Swift.abs(u) / b1 + Swift.abs(v) / b2)) / (4 * b1 * b2)
                } else {
                    k = Foundation.exp(-0.5 * (u * u / (s1 * s1) + v * v / (s2 * s2))) / (2 * Double.pi * s1 * s2)
                }
                dens[i * gw + j] += weight * k
            } }
        }
        let total = dens.reduce(0, +)
        if !(total > 0) { return [Float](repeating: 1 / Float(gh * gw), count: gh * gw) }
        return dens.map { Float($0 / total) }
    }

    /// Random priors for `blocks` of the model: one (count, H, T) tensor per block, drawn from
    /// `rng.derive("prior", block)` so each block's draws are independent of the others.
    public static func random(info: ModelInfo, blocks: [Int], count: Int, kind: PriorKind, components: Int, rng: RNG) -> [Tensor] {
        blocks.map { l in
            let b = info.blocks[l]
            var r = rng.derive("prior", l)
            let t = Tensor(uninitialized: [count, b.heads, b.tokens])
            for k in 0..<(count * b.heads) {
                let m = draw(kind: kind, components: components, gridH: b.gridH, gridW: b.gridW, rng: &r)
                (t.ptr + k * b.tokens).update(from: m, count: b.tokens)
            }
            return t
        }
    }

    /// "Real" priors: the model's own attention maps on `images` (count, C, H, W), per block.
    public static func real(model: VisionModel, info: ModelInfo, blocks: [Int], images: Tensor) throws -> [Tensor] {
        try noGrad {
            let out = try model.forward(images, capture: [.attention], hooks: nil)
            return try blocks.map { try info.attentionMap(block: $0, probs: out.attention[$0], batch: images.shape[0]).copy() }
        }
    }

    /// The model's attention maps of every block on `images` (for figures and the `attention`
    /// builtin): (B, H, T) per block, T = gridH·gridW.
    public static func attentionMaps(model: VisionModel, images: Tensor) throws -> [Tensor] {
        let info = ModelInfo(model)
        return try real(model: model, info: info, blocks: Array(0..<info.blocks.count), images: images)
    }
}
