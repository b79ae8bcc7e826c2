import Foundation
import Testing
import Models
@testable import Synthesis
import Tensor

/// APA's per-iteration targets (priors moved with the augmentation, Swin's projection), the
/// matched soft labels and MSR's separate region term.
@Suite struct PriorTargetTests {
    /// Random positive maps (B, H, gh·gw), each summing to 1.
    func maps(_ b: Int, _ h: Int, _ gh: Int, _ gw: Int, seed: UInt64) throws -> Tensor {
        try randn([b, h, gh * gw], seed: seed).softmax()
    }

    @Test func wholeTokenMovesAreRollsAndFlips() throws {
        let p = try maps(2, 3, 4, 6, seed: 1)
        let grid = try p.reshape([2, 3, 4, 6])
        for (dy, dx) in [(1, 1), (-2, -2), (3, 5), (0, 0)] {
            for flip in [false, true] {
                var want = try grid.roll(shifts: [dy, dx], axes: [2, 3])
                if flip { want = try want.flip(axes: [3]) }
                let got = Priors.moved(p, gridH: 4, gridW: 6, dy: Float(dy), dx: Float(dx), flip: flip)
                expectClose(got, try want.reshape([2, 3, 24]), atol: 1e-7, rtol: 0, "roll (\(dy), \(dx)) flip \(flip)")
            }
        }
    }

    @Test func fractionalMovesInterpolateAndKeepTheMass() throws {
        let p = try maps(1, 2, 5, 5, seed: 2)
        let half = Priors.moved(p, gridH: 5, gridW: 5, dy: 0.5, dx: 0, flip: false)
        let zero = Priors.moved(p, gridH: 5, gridW: 5, dy: 0, dx: 0, flip: false)
        let one = Priors.moved(p, gridH: 5, gridW: 5, dy: 1, dx: 0, flip: false)
        expectClose(half, try (zero + one) * 0.5, atol: 1e-7, rtol: 0, "half-token shift")
        let m = Priors.moved(p, gridH: 5, gridW: 5, dy: -1.25, dx: 2.75, flip: true)
        expectClose(try m.sum(axes: [2]), Tensor.ones([1, 2]), atol: 1e-6, rtol: 0, "mass after a move")
    }

    @Test func swinGroupsFollowTheShiftMask() throws {
        // 8×8 grid, window 4: 4 windows unshifted; shifted by 2, the rolled grid's 4 windows split into
        // 1 + 2 + 2 + 4 mask regions = 9 groups.
        let plain = BlockInfo(index: 0, heads: 1, gridH: 8, gridW: 8, window: 4, shift: 0)
        let shifted = BlockInfo(index: 1, heads: 1, gridH: 8, gridW: 8, window: 4, shift: 2)
        #expect(Set(Priors.attentionGroups(plain)!).count == 4)
        #expect(Set(Priors.attentionGroups(shifted)!).count == 9)
        #expect(Priors.attentionGroups(BlockInfo(index: 0, heads: 1, gridH: 8, gridW: 8, window: 0, shift: 0)) == nil)
    }

    /// Any map Swin's attention really produces is reachable: the projection leaves it unchanged,
    /// and a projected prior has every group's mass at |group|/T.
    @Test func projectionFixesRealSwinMapsAndSetsGroupMasses() throws {
        let model = TinyModels.sharpen(TinyModels.swin())
        let info = ModelInfo(model)
        let x = randn([2, 1, 16, 16], seed: 3)
        let out = try noGrad { try model.forward(x, capture: [.attention], hooks: nil) }
        for b in info.blocks {
            let map = try info.attentionMap(block: b.index, probs: out.attention[b.index], batch: 2)
            let groups = Priors.attentionGroups(b)!
            expectClose(Priors.projected(map, groups: groups), map, atol: 1e-6, rtol: 1e-4, "block \(b.index) map is reachable")
            let prior = try maps(2, b.heads, b.gridH, b.gridW, seed: 4)
            let proj = Priors.projected(prior, groups: groups)
            for g in Set(groups) {
                let members = groups.indices.filter { groups[$0] == g }
                for m in 0..<(2 * b.heads) {
                    let mass = members.reduce(Float(0)) { $0 + proj.ptr[m * b.tokens + $1] }
                    #expect(Swift.abs(mass - Float(members.count) / Float(b.tokens)) < 1e-5, "block \(b.index) group \(g)")
                }
            }
        }
    }

    @Test func matchedSoftLabelsGiveImageNetsTargetMass() throws {
        // e^(z + shift)/(e^(z + shift) + 9) = e^z/(e^z + 999) at the ends of U(5, 10).
        let shift = SoftLabels.matchedShift(numClasses: 10)
        for z in [Float(5), 10] {
            let mine = Foundation.exp(Double(z + shift)) / (Foundation.exp(Double(z + shift)) + 9)
            let imagenet = Foundation.exp(Double(z)) / (Foundation.exp(Double(z)) + 999)
            #expect(Swift.abs(mine - imagenet) < 1e-5, "z = \(z): \(mine) vs \(imagenet)")
        }
        #expect(SoftLabels.matchedShift(numClasses: 1000) == 0)
        var r = RNG(seed: 1)
        let t = try SoftLabels.targets(SoftLabels.logits([[3]], numClasses: 10, shift: shift, rng: &r))
        #expect(t.ptr[3] > 0.12 && t.ptr[3] < 0.96)
    }

    @Test func regionsAreATermOfTheirOwnAndCanSkipIterations() throws {
        var o = SynthesisOptions(method: .sardfq)
        o.iterations = 4
        let separate = try Synthesis.generate(model: TinyModels.vit(), count: 3, seed: 5, options: o)
        #expect(separate.info["final_losses"]!.contains("sl_regions="))
        o.regionWeighting = .pooled
        let pooled = try Synthesis.generate(model: TinyModels.vit(), count: 3, seed: 5, options: o)
        #expect(!pooled.info["final_losses"]!.contains("sl_regions="))
        #expect(pooled.images.array != separate.images.array)
        // Regions every 2nd iteration: the last (4th, index 3) has none.
        o.regionWeighting = .separate; o.msrEvery = 2
        let sparse = try Synthesis.generate(model: TinyModels.vit(), count: 3, seed: 5, options: o)
        #expect(!sparse.info["final_losses"]!.contains("sl_regions="))
        o.msrEvery = 0
        #expect(throws: SynthesisError.self) { try Synthesis.generate(model: TinyModels.vit(), count: 3, seed: 5, options: o) }
    }

    @Test func staticTargetsAreTheProjectedDraws() throws {
        let model = TinyModels.swin()
        var o = SynthesisOptions()
        let projected = try Synthesis.priors(model: model, count: 2, seed: 1, options: o)
        o.windowPriors = false
        let raw = try Synthesis.priors(model: model, count: 2, seed: 1, options: o)
        let info = ModelInfo(model)
        #expect(projected.blocks.map(\.block) == raw.blocks.map(\.block))
        for (p, r) in zip(projected.blocks, raw.blocks) {
            expectClose(p.prior, Priors.projected(r.prior, groups: Priors.attentionGroups(info.blocks[p.block])!), atol: 1e-7, rtol: 0,
                        "block \(p.block)")
        }
    }
}
