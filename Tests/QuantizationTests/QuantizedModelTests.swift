import Foundation
import Testing
import Tensor
import Models
import Datasets
@testable import Quantization

@Suite struct QuantizedModelTests {
    /// Every site a ViT of depth 2 must quantize, and nothing else.
    static func vitSites(_ depth: Int) -> Set<String> {
        var s: Set<String> = ["patch_embed.proj.input", "patch_embed.proj.weight", "head.input", "head.weight"]
        for l in 0..<depth {
            let b = "blocks.\(l)."
            for lin in ["attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"] { s.insert(b + lin + ".input"); s.insert(b + lin + ".weight") }
            for o in ["q", "k", "v", "attn"] { s.insert(b + "attn." + o) }
        }
        return s
    }

    @Test func vitQuantizesExactlyTheRightSitesAndLeavesTheFloatModelAlone() throws {
        let fp = Tiny.model(.vit(Tiny.vit))
        let before = fp.params.all.map { ($0.0, $0.1.array) }
        let x = Tiny.images(8)
        let q = try quantize(fp, w: 4, a: 4, calib: x)
        #expect(Set(q.hooks.quantizers.keys) == Self.vitSites(2))
        // The float model is untouched (a fold changes the clone only).
        for (n, v) in before { #expect(fp.params[n].array == v, "\(n) changed") }
        #expect(fp.params.get("blocks.0.attn.qkv.bias") != nil && q.folds.count == 4)
        let h = q.hooks.quantizers
        #expect(h["patch_embed.proj.input"]!.bits == 8)
        #expect(h["patch_embed.proj.weight"]!.granularity == .rows && h["patch_embed.proj.weight"]!.scales.count == 16)
        #expect(h["blocks.1.mlp.fc2.weight"]!.bits == 4 && h["blocks.1.mlp.fc2.weight"]!.scales.count == 16)
        // Post-LayerNorm inputs were calibrated per channel, then folded to per tensor.
        #expect(h["blocks.0.attn.qkv.input"]!.granularity == .tensor && h["blocks.0.mlp.fc1.input"]!.granularity == .tensor)
        #expect(h["blocks.0.attn.attn"]!.scheme == "log√2" && h["blocks.0.attn.q"]!.scheme == "uniform")
        #expect(h["blocks.0.attn.v"]!.granularity == .tensor && h["head.input"]!.bits == 4)
        // A quantized forward differs from the float one; switching quantization off gives it back.
        let yq = try q.forward(x), yf = try fp.forward(x)
        #expect(relativeError(yq, yf) > 1e-3)
        q.isEnabled = false
        #expect(relativeError(try q.forward(x), yf) < 1e-5)
    }

    @Test func swinQuantizesReductionAndHeadAndItsWindows() throws {
        let fp = Tiny.model(.swin(Tiny.swin))
        let x = Tiny.images(4)
        let q = try quantize(fp, w: 6, a: 6, calib: x)
        let keys = Set(q.hooks.quantizers.keys)
        for k in ["layers.1.downsample.reduction.input", "layers.1.downsample.reduction.weight", "head.fc.input", "head.fc.weight",
                  "layers.0.blocks.1.attn.attn", "layers.1.blocks.1.mlp.fc2.input", "patch_embed.proj.weight"] {
            #expect(keys.contains(k), "missing \(k)")
        }
        // 4 blocks × (4 linears × 2 + 4 operands) + reduction 2 + patch embed 2 + head 2
        #expect(keys.count == 4 * 12 + 6)
        #expect(q.folds.map(\.linear).contains("layers.1.downsample.reduction"))
        #expect(q.folds.count == 4 * 2 + 1)
        #expect(q.params.get("layers.1.downsample.reduction.bias") != nil && fp.params.get("layers.1.downsample.reduction.bias") == nil)
        q.isEnabled = false
        #expect(relativeError(try q.forward(x), try fp.forward(x)) < 1e-5)
    }

    @Test func repqFoldLeavesTheFloatFunctionUnchanged() throws {
        // With quantization off the folded model must compute the original function.
        for arch in [Architecture.vit(Tiny.vit), .swin(Tiny.swin)] {
            let fp = Tiny.model(arch, seed: 21)
            let x = Tiny.images(6, seed: 3)
            let q = try QuantizedModel(float: fp, config: QuantConfig(weightBits: 3, activationBits: 3))
            try q.calibrate(x)
            #expect(!q.folds.isEmpty)
            // The fold really moved the parameters (non-trivial r and b).
            #expect(q.folds.contains { $0.ratioRange.upperBound / $0.ratioRange.lowerBound > 1.5 })
            #expect(q.params["blocks.0.norm1.weight".replacingOccurrences(of: "blocks.0", with: q.blockNames[0])].array
                    != fp.params["blocks.0.norm1.weight".replacingOccurrences(of: "blocks.0", with: q.blockNames[0])].array)
            q.isEnabled = false
            let other = Tiny.images(5, seed: 99)
            #expect(relativeError(try q.forward(other), try fp.forward(other)) < 1e-5, "\(arch.family)")
        }
    }

    @Test func foldFormulaOnOneLayer() throws {
        // Direct check of γ/r, β/r − b, W·r, bias + W·b on a 2-channel LayerNorm → linear.
        let p = Parameters()
        p.add("n.weight", Tensor([1, 2])); p.add("n.bias", Tensor([0.5, -1]))
        p.add("l.weight", try Tensor(shape: [1, 2], [3, 4])); p.add("l.bias", Tensor([1]))
        // s = (1, 3) → s̃ = 2, r = (0.5, 1.5); z = (2, 4) → z̃ = 3; b = −z·s/r + z̃·s̃ = (−4 + 6, −8 + 6) = (2, −2)
        let rec = try RepQFold.fold(p, norm: "n", linear: "l", scales: [1, 3], zeroPoints: [2, 4])
        #expect(rec.scale == 2 && rec.zeroPoint == 3)
        let gamma: [Float] = [2, 2 / 1.5], beta: [Float] = [0.5 / 0.5 - 2, -1 / 1.5 + 2]
        #expect(close(p["n.weight"].array, gamma))
        #expect(close(p["n.bias"].array, beta))
        #expect(close(p["l.weight"].array, [1.5, 6]))
        let bias: Float = 1 + 1.5 * 2 - 6 * 2
        #expect(close(p["l.bias"].array, [bias]))
    }

    @Test func w8a8IsCloseToFloatAndLowBitsDegrade() throws {
        let fp = Tiny.model(.vit(Tiny.vit), seed: 4)
        let x = Tiny.images(16, seed: 5)
        let test = Tiny.images(16, seed: 6)
        let yf = try fp.forward(test)
        var errs: [Float] = []
        for b in [8, 4, 2] {
            let q = try quantize(fp, w: b, a: b, calib: x)
            errs.append(relativeError(try q.forward(test), yf))
        }
        #expect(errs[0] < 0.05, "W8A8 relative logit error \(errs[0])")
        #expect(errs[0] < errs[1] && errs[1] < errs[2], "\(errs)")
    }

    @Test func minmaxBackendLeavesSoftmaxInFloatAndUsesSymmetricWeights() throws {
        let fp = Tiny.model(.vit(Tiny.vit))
        let x = Tiny.images(8)
        let q = try quantize(fp, w: 8, a: 8, calib: x, backend: .minmax)
        #expect(q.hooks.quantizers["blocks.0.attn.attn"] == nil && q.hooks.floatSites.contains("blocks.0.attn.attn"))
        #expect(q.hooks.quantizers["blocks.0.attn.qkv.weight"]!.scheme == "symmetric")
        #expect(q.hooks.quantizers["blocks.0.attn.qkv.input"]!.granularity == .tensor && q.folds.isEmpty)
        #expect(relativeError(try q.forward(x), try fp.forward(x)) < 0.05)
        let rows = try q.report()
        #expect(rows.first { $0.site == "blocks.0.attn.attn" }!.scheme == "float")
    }

    @Test func sulqOptionAndWeightOnlySwitch() throws {
        let fp = Tiny.model(.vit(Tiny.vit))
        let x = Tiny.images(8)
        var c = QuantConfig(weightBits: 4, activationBits: 4)
        c.attention = .shiftUniformLog2
        let q = try quantize(fp, config: c, calib: x)
        #expect(q.hooks.quantizers["blocks.1.attn.attn"]!.scheme == "sulq")
        // Activations off: only the weights differ from the folded float model.
        q.hooks.quantizeActivations = false
        let yw = try q.forward(x)
        q.hooks.quantizeWeights = false
        let yOff = try q.forward(x)
        #expect(relativeError(yOff, try fp.forward(x)) < 1e-5)
        #expect(relativeError(yw, yOff) > 1e-4)
    }

    @Test func reportListsEveryQuantizerWithItsError() throws {
        let fp = Tiny.model(.vit(Tiny.vit))
        let q = try quantize(fp, w: 4, a: 4, calib: Tiny.images(8))
        let rows = try q.report()
        #expect(rows.count == Self.vitSites(2).count)
        #expect(rows.first!.site == "patch_embed.proj.input")   // forward order
        for r in rows {
            #expect(r.mse.isFinite && r.mse >= 0 && r.relativeError < 2, "\(r.site)")
            #expect(r.scale > 0)
        }
        let w = rows.first { $0.site == "blocks.0.mlp.fc1.weight" }!
        #expect(w.channels == 64 && w.zeroPoint != nil && w.relativeError > 0)
        #expect(rows.first { $0.site == "blocks.0.attn.attn" }!.zeroPoint == nil)
        let table = try q.reportTable()
        #expect(table.contains("| blocks.1.attn.attn | log√2 | 4 |"))
    }

    @Test func clonesAreIndependentAndErrorsAreClear() throws {
        let fp = Tiny.model(.vit(Tiny.vit))
        let x = Tiny.images(4)
        let q = try quantize(fp, w: 4, a: 4, calib: x)
        let c = q.clone() as! QuantizedModel
        #expect(relativeError(try c.forward(x), try q.forward(x)) == 0)
        c.params["blocks.0.mlp.fc1.weight"].ptr[0] += 1
        #expect(q.params["blocks.0.mlp.fc1.weight"].ptr[0] != c.params["blocks.0.mlp.fc1.weight"].ptr[0])
        #expect(throws: QuantError.self) { try quantize(fp, w: 9, a: 4, calib: x) }
        #expect(throws: QuantError.self) { try quantize(fp, w: 4, a: 4, calib: Tensor.zeros([2, 3, 16, 16])) }
        #expect(throws: QuantError.self) { try quantize(q, w: 4, a: 4, calib: x) }
        let raw = try QuantizedModel(float: fp, config: QuantConfig(weightBits: 4, activationBits: 4))
        do { _ = try raw.forward(x); Issue.record("uncalibrated forward worked") }
        catch { #expect("\(error)".contains("patch_embed.proj.input") && "\(error)".contains("not calibrated")) }
    }

    @Test func calibrationSources() throws {
        let a = try CalibrationSource.gaussian(count: 4, shape: [1, 16, 16], seed: 3)
        let b = try CalibrationSource.gaussian(count: 4, shape: [1, 16, 16], seed: 3)
        let c = try CalibrationSource.gaussian(count: 4, shape: [1, 16, 16], seed: 4)
        #expect(a.shape == [4, 1, 16, 16] && a.array == b.array && a.array != c.array)
        let m = try a.mean().item, v = try a.variance().item
        #expect(abs(m) < 0.1 && abs(v - 1) < 0.15)
        var rng = RNG(seed: 1)
        let ds = try ImageDataset(name: "toy", images: Tensor.normal([20, 1, 16, 16], rng: &rng), labels: (0..<20).map { $0 % 10 },
                                  classNames: (0..<10).map(String.init), mean: [0], std: [1])
        let r1 = try CalibrationSource.real(ds, count: 5, seed: 2), r2 = try CalibrationSource.real(ds, count: 5, seed: 2)
        #expect(r1.shape == [5, 1, 16, 16] && r1.array == r2.array)
        #expect(throws: QuantError.self) { try CalibrationSource.real(ds, count: 21, seed: 0) }
    }
}

@Suite struct ReconstructionTests {
    @Test func reconstructionLowersBlockErrorAndTrainsOnlyLinears() throws {
        let fp = Tiny.model(.vit(Tiny.vit), seed: 8)
        let x = Tiny.images(8, seed: 2)
        let q = try quantize(fp, w: 3, a: 4, calib: x)
        let frozen = q.params.all.filter { !$0.0.contains("attn.qkv") && !$0.0.contains("attn.proj") && !$0.0.contains("mlp.") }
            .map { ($0.0, $0.1.array) }
        let scales = q.hooks.quantizers.mapValues { $0.scales }
        try q.reconstruct(reference: fp, images: x, config: ReconstructionConfig(iterations: 30, lr: 1e-3))
        #expect(q.reconstruction.count == 2)
        for r in q.reconstruction { #expect(r.after < r.before, "\(r.block): \(r.before) → \(r.after)") }
        #expect(q.reconstruction[0].parameters == ["blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight",
                                                   "blocks.0.attn.proj.bias", "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias",
                                                   "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias"])
        for (n, v) in frozen { #expect(q.params[n].array == v, "\(n) changed") }
        for (k, s) in scales { #expect(q.hooks.quantizers[k]!.scales == s, "\(k) scale changed") }
        #expect(q.params.tensors.allSatisfy { !$0.requiresGrad && $0.grad == nil })
        #expect(q.reconstructionSeconds > 0)
    }

    @Test func swinStageOpeningBlockTrainsTheReduction() throws {
        let fp = Tiny.model(.swin(Tiny.swin))
        let q = try quantize(fp, w: 4, a: 4, calib: Tiny.images(4))
        let names = q.trainableParameters(block: 2)
        #expect(q.blockNames[2] == "layers.1.blocks.0")
        #expect(names.contains("layers.1.downsample.reduction.weight") && names.contains("layers.1.downsample.reduction.bias"))
        #expect(!q.trainableParameters(block: 3).contains { $0.contains("reduction") })
        try q.reconstruct(reference: fp, images: Tiny.images(4), config: ReconstructionConfig(iterations: 5, lr: 1e-3, batchSize: 2))
        #expect(q.reconstruction.count == 4 && q.reconstruction.allSatisfy { $0.after.isFinite })
    }
}
