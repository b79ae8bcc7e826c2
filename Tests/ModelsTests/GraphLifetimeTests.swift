import Testing
@testable import Models
import Tensor

/// A forward recorded on the autodiff tape (parameters that require grad) holds its whole graph
/// through its outputs only: dropping the outputs without a backward frees everything. A reference
/// cycle through an op's own backward closure kept 78 MB per `vit-s` forward alive in a script
/// loop once; this guards every op the models use, fused or not.
@Suite struct GraphLifetimeTests {
    @Test(arguments: ["vit-t", "swin-t"])
    func recordedForwardIsFreedWithoutBackward(_ name: String) throws {
        let model: VisionModel
        switch Presets.named(name)!.architecture {
        case .vit(let c): model = VisionTransformer(c, seed: 1)
        case .swin(let c): model = SwinTransformer(c, seed: 1)
        }
        for p in model.params.tensors { p.requiresGrad = true }
        var rng = RNG(seed: 2)
        let x = Tensor.normal([2, 1, 32, 32], rng: &rng)
        weak var logits: Tensor?, attention: Tensor?, blockOutput: Tensor?
        do {
            let out = try model.forward(x, capture: [.attention, .attentionOutput, .blockIO], hooks: nil)
            logits = out.logits; attention = out.attention.last; blockOutput = out.blockOutputs.first
            #expect(logits?.requiresGrad == true && attention != nil && blockOutput != nil)
        }
        #expect(logits == nil, "logits outlived the forward")
        #expect(attention == nil, "attention probabilities outlived the forward")
        #expect(blockOutput == nil, "a block output outlived the forward")
    }
}
