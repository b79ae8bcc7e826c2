import Foundation
import Tensor

/// APA's per-iteration targets: the drawn priors moved with the image's augmentation and, for
/// Swin, projected onto what windowed attention can produce (METHOD §3, [revised]).
extension Priors {
    /// The priors `p` (B, H, gh·gw) of a grid whose image was rolled by (`dy`, `dx`) tokens (may be
    /// fractional) and then, if `flip`, mirrored left–right: `moved[t] = p[t − shift]`, linearly
    /// interpolated between the two nearest whole-token shifts and wrapping like `roll`. Mass is
    /// preserved. Off the tape (targets are constants). - returns (B, H, gh·gw)
    public static func moved(_ p: Tensor, gridH gh: Int, gridW gw: Int, dy: Float, dx: Float, flip: Bool) -> Tensor {
        precondition(p.rank == 3 && p.shape[2] == gh * gw, "priors (B, H, gh·gw) expected")
        if dy == 0, dx == 0, !flip { return p }
        // Per axis: out[i] = (1 − f)·in[i − k] + f·in[i − k − 1] with shift = k + f, 0 ≤ f < 1.
        func taps(_ s: Float, _ n: Int) -> (k: Int, f: Float) {
            let k = Int(s.rounded(.down))
            return (((k % n) + n) % n, s - Float(k))
        }
        let (ky, fy) = taps(dy, gh), (kx, fx) = taps(dx, gw)
        let maps = p.shape[0] * p.shape[1], t = gh * gw
        let out = Tensor(uninitialized: p.shape)
        var row = [Float](repeating: 0, count: t)
        for m in 0..<maps {
            let src = p.ptr + m * t, dst = out.ptr + m * t
            // Rows first (into `row`), then columns (into `dst`), the flip folded into the column write.
            for i in 0..<gh {
                let a = (i - ky + gh) % gh, b = (i - ky - 1 + 2 * gh) % gh
                for j in 0..<gw { row[i * gw + j] = (1 - fy) * src[a * gw + j] + fy * src[b * gw + j] }
            }
            for i in 0..<gh {
                for j in 0..<gw {
                    let a = (j - kx + gw) % gw, b = (j - kx - 1 + 2 * gw) % gw
                    let v = (1 - fx) * row[i * gw + a] + fx * row[i * gw + b]
                    dst[i * gw + (flip ? gw - 1 - j : j)] = v
                }
            }
        }
        return out
    }

    /// For a Swin block, the group of every grid token (row-major): tokens of one group attend only
    /// among themselves (a window, or one mask region of a shifted window, in the coordinates of
    /// the un-shifted grid). nil for a ViT block (one group: every patch).
    public static func attentionGroups(_ b: BlockInfo) -> [Int]? {
        guard b.window > 0 else { return nil }
        let (h, w, ws, s) = (b.gridH, b.gridW, b.window, b.shift)
        // Same regions as `SwinTransformer.shiftMask`, on the grid rolled by −s.
        func region(_ i: Int, _ n: Int) -> Int { s == 0 ? 0 : (i < n - ws ? 0 : (i < n - s ? 1 : 2)) }
        var g = [Int](repeating: 0, count: h * w)
        for i in 0..<h { for j in 0..<w {
            let ri = (i - s + h) % h, rj = (j - s + w) % w
            let window = (ri / ws) * (w / ws) + rj / ws
            g[i * w + j] = window * 9 + region(ri, h) * 3 + region(rj, w)
        } }
        return g
    }

    /// `p` (B, H, T) with every group's mass set to |group|/T, distributed inside the group as in
    /// `p` (uniformly where `p` has no mass there): the closest map windowed attention, averaged
    /// over queries and assembled on the grid (`Losses.windowMap`), can reach. - returns (B, H, T)
    public static func projected(_ p: Tensor, groups: [Int]) -> Tensor {
        let t = groups.count
        precondition(p.rank == 3 && p.shape[2] == t, "priors (B, H, T) expected")
        let ids = Dictionary(grouping: 0..<t, by: { groups[$0] }).values.map { $0 }
        let out = Tensor(uninitialized: p.shape)
        for m in 0..<(p.shape[0] * p.shape[1]) {
            let src = p.ptr + m * t, dst = out.ptr + m * t
            for members in ids {
                let share = Float(members.count) / Float(t)
                var mass: Float = 0
                for k in members { mass += src[k] }
                if mass > 0 {
                    for k in members { dst[k] = src[k] * share / mass }
                } else {
                    for k in members { dst[k] = 1 / Float(t) }
                }
            }
        }
        return out
    }
}

extension Synthesis {
    /// APA's target for one used block in an iteration whose image was rolled by `offset` pixels on
    /// both axes and flipped if `flip`: the drawn prior, moved with the image when APA reads the
    /// augmented view (`apaView == .moved`), projected onto the reachable maps for Swin (`windowPriors`).
    /// - prior: (B, H, T) → (B, H, T)
    static func apaTarget(_ prior: Tensor, block b: BlockInfo, inputSize: (h: Int, w: Int), offset: Int, flip: Bool,
                          options o: SynthesisOptions) -> Tensor {
        var target = prior
        if o.apaView == .moved {
            // Pixels per token along each axis (ViT: the patch; Swin: patch · 2^stage).
            let dy = Float(offset) * Float(b.gridH) / Float(inputSize.h), dx = Float(offset) * Float(b.gridW) / Float(inputSize.w)
            target = Priors.moved(prior, gridH: b.gridH, gridW: b.gridW, dy: dy, dx: dx, flip: flip)
        }
        if o.windowPriors, let groups = Priors.attentionGroups(b) { target = Priors.projected(target, groups: groups) }
        return target
    }
}
