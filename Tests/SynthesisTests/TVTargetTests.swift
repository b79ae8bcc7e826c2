import Testing
import Tensor
import Models
@testable import Synthesis

/// The TV target τ: which rule `auto` picks for a model, and what each rule gives.
@Suite struct TVTargetTests {
    func tau(_ model: VisionModel, _ change: (inout SynthesisOptions) -> Void = { _ in }) throws -> Float {
        var o = SynthesisOptions(method: .psaq)
        o.iterations = 1
        change(&o)
        return try #require(try Synthesis.generate(model: model, count: 2, seed: 3, options: o).draws.tau)
    }

    @Test func autoIsStartOnSwinAndSqrtPixelsOnViT() throws {
        let swin = TinyModels.swin(), vit = TinyModels.vit()
        #expect(try tau(swin) == (try tau(swin) { $0.tauScaling = .start }))
        #expect(try tau(vit) == (try tau(vit) { $0.tauScaling = .sqrtPixels }))
    }

    @Test func eachRuleScalesTheSameDraw() throws {
        let vit = TinyModels.vit()
        // The draw u ~ U(2500, 3000) is the same for every rule (its own random stream).
        let u = try tau(vit) { $0.tauScale = 1 }
        #expect((2500...3000).contains(u))
        let ratio = Float(2 * 1 * 16 * 16) / Float(32 * 3 * 224 * 224)
        #expect(abs(try tau(vit) { $0.tauScaling = .sqrtPixels } - u * ratio.squareRoot()) <= 1e-3 * u)
        #expect(abs(try tau(vit) { $0.tauScaling = .pixels } - u * ratio) <= 1e-3 * u)
        // start: u/2750 times the TV of the N(0, 1) start, whose four neighbour differences each
        // have variance 2: about 4·√(2·count) for 2 images of 16×16.
        let start = try tau(vit) { $0.tauScaling = .start }
        let expected = u / 2750 * 4 * (2 * 2 * 16 * 16 as Float).squareRoot()
        #expect(abs(start - expected) <= 0.15 * expected, "τ = \(start), about \(expected) expected")
    }
}
