import Foundation
import Testing
@testable import Models
import Tensor
import Datasets

/// Our ViT/DeiT and Swin against timm 1.0.31 on the committed fixtures (tools/make_fixtures.py).
@Suite("timm conformance")
struct TimmConformanceTests {
    static let randomFixtures = ["vit_tiny_odd", "vit_gray", "swin_small_odd", "swin_rgb", "deit_like"]

    @Test(arguments: randomFixtures)
    func logitsAttentionAndGradientsMatchTimm(_ name: String) throws {
        let fx = try Fixture(name)
        let model = try fx.model()
        let x = fx.input
        x.requiresGrad = true
        let out = try model.forward(x, capture: [.attention, .attentionOutput], hooks: nil)
        expectClose(out.logits, fx["__logits__"]!, atol: 1e-4, rtol: 1e-4, "\(name) logits")
        expectClose(out.features, fx["__pre_logits__"]!, atol: 1e-4, rtol: 1e-4, "\(name) pre-logits")
        for l in 0..<model.architecture.numBlocks {
            if let ref = fx["__attn_block\(l)__"] { expectClose(out.attention[l], ref, atol: 1e-5, rtol: 0, "\(name) attention block \(l)") }
            if let ref = fx["__attn_out_block\(l)__"] { expectClose(out.attentionOutput[l], ref, atol: 1e-4, rtol: 1e-4, "\(name) attention output block \(l)") }
        }
        // loss = Σ logits·W; gradients to the input and (where stored) to parameters.
        try (out.logits * fx["__loss_weight__"]!).sum().backward()
        expectClose(x.grad!, fx["__input_grad__"]!, atol: 1e-4, rtol: 1e-3, "\(name) input gradient")
        var checked = 0
        for (key, p) in model.params.all {
            guard let ref = fx["__grad__.\(key)"] else { continue }
            expectClose(p.grad!, ref, atol: 1e-4, rtol: 1e-3, "\(name) gradient of \(key)")
            checked += 1
        }
        if name == "vit_gray" { #expect(checked == model.params.names.count) }
    }

    @Test(arguments: ["deit_tiny_formula", "swin_tiny_formula"])
    func fullSizeGeometryWithFormulaWeights(_ name: String) throws {
        let fx = try Fixture(name)
        let model = try fx.model()
        // Our parameter names and shapes are exactly timm's state dict (minus computed buffers).
        let timm = fx.timmKeys.filter { !SwinTransformer.isComputedBuffer($0.0) }
        #expect(model.params.names == timm.map(\.0))
        #expect(model.params.all.map(\.1.shape) == timm.map(\.1))
        let out = try noGrad { try model.forward(fx.input, capture: [.attention], hooks: nil) }
        expectClose(out.logits, fx["__logits__"]!, atol: 1e-4, rtol: 1e-4, "\(name) logits")
        expectClose(out.features, fx["__pre_logits__"]!, atol: 1e-4, rtol: 1e-4, "\(name) pre-logits")
        if let cls = fx["__cls_attn__"] {  // (L, heads, N): class-token row of each block, image 0
            let rows = try out.attention.map { try $0.slice(axis: 2, start: 0, end: 1).reshape([$0.shape[1], $0.shape[3]]) }
            expectClose(try Tensor.stack(rows), cls, atol: 1e-5, rtol: 0, "\(name) class-token attention")
        }
    }

    @Test func formulaMatchesSanityValues() {
        #expect(FormulaWeights.r(0, 0) == -1.0)
        #expect(Float(FormulaWeights.r(0, 1)) == -0.3648022711277008)
        #expect(FormulaWeights.r(1, 0) == 0.1467951601371169)
    }
}

@Suite("checkpoints")
struct CheckpointTests {
    @Test func strictLoadingNamesEveryProblem() throws {
        let fx = try Fixture("vit_gray")
        var state = fx.stateDict
        state.removeAll { $0.0 == "blocks.1.norm1.bias" }
        state.append(("blocks.9.attn.qkv.weight", Tensor.zeros([2])))
        if let i = state.firstIndex(where: { $0.0 == "head.weight" }) { state[i].1 = Tensor.zeros([3, 3]) }
        let model = ModelFactory.build(fx.architecture)
        do {
            try model.params.load(state, file: "broken.safetensors")
            Issue.record("expected a loading error")
        } catch {
            let msg = "\(error)"
            #expect(msg.contains("broken.safetensors"))
            #expect(msg.contains("missing keys: blocks.1.norm1.bias"))
            #expect(msg.contains("unexpected keys: blocks.9.attn.qkv.weight"))
            #expect(msg.contains("head.weight: checkpoint (3, 3) vs model (10, 48)"))
        }
    }

    /// NaN and infinite weights are refused at load, naming the tensor, and leave the model as it was.
    @Test func nonFiniteWeightsAreRefusedByName() throws {
        let fx = try Fixture("vit_gray")
        for bad: Float in [.nan, .infinity] {
            var state = fx.stateDict
            let i = state.firstIndex { $0.0 == "blocks.0.mlp.fc1.weight" }!
            let t = state[i].1.copy(); t.ptr[3] = bad; state[i].1 = t
            let model = ModelFactory.build(fx.architecture)
            let before = model.params.all.map { $0.1.array }
            #expect(throws: ModelError.self) { try model.params.load(state, file: "nan.safetensors") }
            do { try model.params.load(state, file: "nan.safetensors") } catch {
                #expect("\(error)".contains("nan.safetensors") && "\(error)".contains("'blocks.0.mlp.fc1.weight'"))
            }
            #expect(model.params.all.map { $0.1.array } == before)
        }
    }

    /// Every preset is a valid architecture; damaged metadata is refused with a message, never trapped on.
    @Test func architectureMetadataIsValidated() throws {
        for p in Presets.all { try p.architecture.validate() }
        let good = Presets.all.first { $0.name == "vit-t" }!.architecture.json()
        for (key, bad) in [("patchSize", "0"), ("patchSize", "-4"), ("numHeads", "0"), ("embedDim", "-64"), ("depth", "-1"),
                           ("mlpRatio", "1e30"), ("numClasses", "-10"), ("imgSize", "[]"), ("imgSize", "[1000000, 32]")] {
            let json = good.replacingOccurrences(of: #"("\#(key)"\s*:\s*)(\[[^\]]*\]|[-0-9.e]+)"#, with: "$1\(bad)", options: .regularExpression)
            #expect(json != good, "\(key) was not replaced in \(good)")
            #expect(throws: (any Error).self, "\(key) = \(bad)") { _ = try Architecture.from(json: json) }
        }
        // Each field within its range, the whole far too large to build: refused before any weight.
        let huge = good.replacingOccurrences(of: #"("embedDim"\s*:\s*)\d+"#, with: "$116384", options: .regularExpression)
            .replacingOccurrences(of: #"("depth"\s*:\s*)\d+"#, with: "$1256", options: .regularExpression)
            .replacingOccurrences(of: #"("numHeads"\s*:\s*)\d+"#, with: "$116", options: .regularExpression)
        #expect(huge != good)
        do { _ = try Architecture.from(json: huge); Issue.record("a 1.1-trillion-weight model was accepted") }
        catch { #expect("\(error)".contains("weights"), "\(error)") }
        // DeiT-B/224 (86 M weights) is well inside.
        try Architecture.vit(ViTConfig(imgSize: [224, 224], patchSize: 16, embedDim: 768, depth: 12, numHeads: 12)).validate()
        let swinGood = Presets.all.first { $0.name == "swin-t" }!.architecture.json()
        let swinBad = swinGood.replacingOccurrences(of: #"("windowSize"\s*:\s*)\d+"#, with: "$10", options: .regularExpression)
        #expect(throws: (any Error).self) { _ = try Architecture.from(json: swinBad) }
    }

    /// A NaN logit never counts as a correct answer (it compares false to everything).
    @Test func nanLogitsAreNeverCorrect() throws {
        let data = try ImageDataset(name: "t", images: Tensor.zeros([4, 1, 2, 2]), labels: [0, 1, 2, 0], classNames: ["a", "b", "c"], mean: [0], std: [1])
        let acc = try Evaluation.accuracy(of: { x in Tensor.full([x.shape[0], 3], .nan) }, on: data)
        #expect(acc.top1 == 0)
    }

    @Test func ownCheckpointCarriesItsArchitecture() throws {
        let fx = try Fixture("swin_small_odd")
        let model = try fx.model()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sardfq-ckpt-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ModelFactory.save(model, path: path, metadata: ["note": "test"])
        let (loaded, meta) = try ModelFactory.load(path: path)
        #expect(meta["note"] == "test")
        #expect(loaded.architecture == model.architecture)
        let x = fx.input
        let a = try noGrad { try model.forward(x) }, b = try noGrad { try loaded.forward(x) }
        #expect(a.array == b.array)
    }

    @Test func timmCheckpointNeedsAPreset() throws {
        let url = Bundle.module.url(forResource: "Fixtures/vit_gray", withExtension: "safetensors")!
        #expect(throws: ModelError.self) { try ModelFactory.load(path: url.path) }
        let fx = try Fixture("vit_gray")
        let m = try ModelFactory.load(timm: url.path, architecture: fx.architecture)
        let logits = try noGrad { try m.forward(fx.input) }
        expectClose(logits, fx["__logits__"]!, atol: 1e-4, rtol: 1e-4, "vit_gray via load(timm:)")
    }
}
