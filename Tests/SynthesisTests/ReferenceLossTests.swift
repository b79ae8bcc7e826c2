import Testing
@testable import Synthesis
import Tensor

/// The Swift loss terms against `losses.safetensors` (tools/reference_losses.py, float64 PyTorch).
/// Losses to 1e-4 relative; gradients to atol 1e-4 + rtol 1e-3 (tools/README.md).
@Suite struct ReferenceLossTests {
    func leaf(_ key: String) -> Tensor {
        let t = LossFixture[key].copy()
        t.requiresGrad = true
        return t
    }

    @Test func pseViT() throws {
        let outs = (0..<3).map { leaf("pse.attn_out\($0)") }
        let loss = try Losses.psaqEntropy(outs, batch: 2, dropClassToken: true)
        expectScalar(loss.item, LossFixture["pse.loss"].item, "pse.loss")
        let grid = LossFixture["pse.grid"], dens = LossFixture["pse.density"], ent = LossFixture["pse.entropy"]
        for j in 0..<3 {
            let r = try noGrad { try Losses.kdeEntropy(Losses.patchSimilarities(outs[j], batch: 2, dropClassToken: true)) }
            expectScalar(r.entropy.item, ent.ptr[j], "pse.entropy[\(j)]")
            expectScalar(r.lo, grid.ptr[2 * j], rtol: 1e-5, "pse.grid lo[\(j)]")
            expectScalar(r.hi, grid.ptr[2 * j + 1], rtol: 1e-5, "pse.grid hi[\(j)]")
            expectClose(r.density, try Tensor(shape: [2, 10], Array(dens.array[(20 * j)..<(20 * j + 20)])), atol: 1e-3, rtol: 1e-4, "pse.density[\(j)]")
        }
        try loss.backward()
        for j in 0..<3 {
            expectClose(outs[j].grad!, LossFixture["pse.grad.attn_out\(j)"], atol: 1e-4, rtol: 1e-3, "pse.grad.attn_out\(j)")
        }
    }

    @Test func pseSwinPoolsWindowsPerImage() throws {
        let a = leaf("pse_swin.attn_out0")
        let sims = try Losses.patchSimilarities(a, batch: 2, dropClassToken: false)
        #expect(sims.shape == [2, 4 * 4 * 4])
        let r = try Losses.kdeEntropy(sims)
        let loss = -r.entropy
        expectScalar(loss.item, LossFixture["pse_swin.loss"].item, "pse_swin.loss")
        expectScalar(r.lo, LossFixture["pse_swin.grid"].ptr[0], rtol: 1e-5, "pse_swin.grid lo")
        expectClose(r.density, try LossFixture["pse_swin.density"].reshape([2, 10]), atol: 1e-3, rtol: 1e-4, "pse_swin.density")
        try loss.backward()
        expectClose(a.grad!, LossFixture["pse_swin.grad.attn_out0"], atol: 1e-4, rtol: 1e-3, "pse_swin.grad")
    }

    /// The default APA loss (latter-half blocks, depth-weighted) over `maps` against the fixture's
    /// `<prefix>.prior<l>`, its value (`<prefix>.loss`) and the gradient reaching each block's
    /// attention leaf (`<prefix>.grad.attn<l>`).
    func expectAPALossAndGradients(_ prefix: String, maps: [Tensor], attn: [Tensor]) throws {
        let used = Losses.apaBlocks(total: maps.count, range: .latterHalf)  // the fixtures' convention
        let loss = try Losses.apaLoss(maps: used.map { maps[$0.block] }, priors: used.map { LossFixture["\(prefix).prior\($0.block)"] },
                                      weights: used.map(\.weight))
        expectScalar(loss.item, LossFixture["\(prefix).loss"].item, "\(prefix).loss")
        try loss.backward()
        for l in attn.indices {
            let g = attn[l].grad ?? Tensor.zeros(attn[l].shape)
            expectClose(g, LossFixture["\(prefix).grad.attn\(l)"], atol: 1e-6, rtol: 1e-3, "\(prefix).grad.attn\(l)")
        }
    }

    @Test func apaViT() throws {
        let attn = (0..<5).map { leaf("apa.attn\($0)") }
        let maps = try attn.map { try Losses.classTokenMap($0) }
        for l in 0..<5 { expectClose(maps[l], LossFixture["apa.cls_attn\(l)"], atol: 1e-6, rtol: 1e-5, "apa.cls_attn\(l)") }
        let used = Losses.apaBlocks(total: 5, range: .latterHalf)
        #expect(used.map(\.block) == [2, 3, 4])
        #expect(used.map(\.weight) == [0.6, 0.8, 1.0])
        // The paper's Σ_{l = L/2 … L} (1-based): 4 of 6 blocks, 7 of 12.
        #expect(Losses.apaBlocks(total: 6).map(\.block) == [2, 3, 4, 5])
        #expect(Losses.apaBlocks(total: 12).map(\.block) == Array(5..<12))
        #expect(Losses.apaBlocks(total: 1).map(\.block) == [0])
        try expectAPALossAndGradients("apa", maps: maps, attn: attn)
        let all = Losses.apaBlocks(total: 5, range: .all, depthWeighted: false)
        let ablation = try noGrad {
            try Losses.apaLoss(maps: all.map { try Losses.classTokenMap(LossFixture["apa.attn\($0.block)"]) },
                               priors: all.map { LossFixture["apa.prior\($0.block)"] }, weights: all.map(\.weight))
        }
        expectScalar(ablation.item, LossFixture["apa.loss_all_blocks_unweighted"].item, "apa.loss_all_blocks_unweighted")
    }

    @Test func apaSwinAssemblesTheGridAndUndoesTheShift() throws {
        // Geometry of metadata `apa_swin_blocks`.
        let geo: [(res: Int, win: Int, shift: Int)] = [(8, 4, 0), (8, 4, 2), (4, 2, 0), (4, 2, 1)]
        let attn = (0..<4).map { leaf("apa_swin.attn\($0)") }
        let maps = try (0..<4).map { l in
            try Losses.windowMap(attn[l], batch: 2, height: geo[l].res, width: geo[l].res, window: geo[l].win, shift: geo[l].shift)
        }
        for l in 0..<4 { expectClose(maps[l], LossFixture["apa_swin.map\(l)"], atol: 1e-6, rtol: 1e-5, "apa_swin.map\(l)") }
        try expectAPALossAndGradients("apa_swin", maps: maps, attn: attn)
    }

    @Test func softAndHardCrossEntropy() throws {
        let logits = leaf("sce.logits")
        let targets = try SoftLabels.targets(LossFixture["sce.z"])
        expectClose(targets, LossFixture["sce.targets"], atol: 1e-6, rtol: 1e-5, "softmax(z)")
        let sce = try Tensor.softCrossEntropy(logits, targets: LossFixture["sce.targets"])
        expectScalar(sce.item, LossFixture["sce.loss"].item, "sce.loss")
        try sce.backward()
        expectClose(logits.grad!, LossFixture["sce.grad.logits"], atol: 1e-5, rtol: 1e-4, "sce.grad.logits")
        let l2 = leaf("sce.logits")
        let ce = try Tensor.crossEntropy(l2, labels: LossFixture["ce.labels"].array.map { Int($0) })
        expectScalar(ce.item, LossFixture["ce.loss"].item, "ce.loss")
        try ce.backward()
        expectClose(l2.grad!, LossFixture["ce.grad.logits"], atol: 1e-5, rtol: 1e-4, "ce.grad.logits")
    }

    @Test func totalVariation() throws {
        let x = leaf("tv.images")
        let tv = try Losses.tvLoss(x)
        expectScalar(tv.item, LossFixture["tv.value"].item, rtol: 1e-5, "tv.value")
        try tv.backward()
        expectClose(x.grad!, LossFixture["tv.grad.images"], atol: 1e-5, rtol: 1e-4, "tv.grad.images")
        // The PSAQ term's gradient is 0.05·sign(TV − τ)·∇TV.
        let y = leaf("tv.images")
        let term = try Losses.tvTerm(y, tau: tv.item + 10)
        expectScalar(term.item, 0.05 * 10, rtol: 1e-4, "0.05·|TV − τ|")
        try term.backward()
        expectClose(y.grad!, LossFixture["tv.grad.images"] * -0.05, atol: 1e-6, rtol: 1e-4, "tv term gradient")
    }
}
