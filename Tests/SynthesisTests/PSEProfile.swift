import Foundation
import Testing
import Models
@testable import Synthesis
import Tensor

/// Where PSAQ-ViT's loss-term time goes, piece by piece, on one model (32 images). Not part of the
/// normal suite; run it with
///
///     SARDFQ_PROFILE=models/vit-t.safetensors swift test -c release -Xswiftc -enable-testing --filter pseProfile
///
/// (`SARDFQ_PROFILE=random:vit-t` uses the preset with random weights, as `bench synthesis`.)
/// Every figure is the median of interleaved repetitions, so ratios within one run compare
/// pieces under the same machine load. (The "before" rows of docs/synthesis.md came from the same
/// pieces with the code of commit 540b493.)
@Test(.enabled(if: ProcessInfo.processInfo.environment["SARDFQ_PROFILE"] != nil))
func pseProfile() throws {
    let env = ProcessInfo.processInfo.environment
    let spec = env["SARDFQ_PROFILE"]!
    let model: VisionModel
    if spec.hasPrefix("random:") {
        model = ModelFactory.build(Presets.named(String(spec.dropFirst(7)))!.architecture, seed: 0)
    } else {
        model = try ModelFactory.load(path: spec).0
    }
    let reps = env["SARDFQ_REPS"].flatMap(Int.init) ?? 9
    let info = ModelInfo(model)
    let count = 32
    var rng = RNG(seed: 0)
    let x = Tensor.normal([count] + info.inputShape, rng: &rng)
    x.requiresGrad = true
    for p in model.params.tensors { p.requiresGrad = false }
    let labels = (0..<count).map { _ in rng.int(info.numClasses) }
    let drop = info.classToken
    // Captured attention outputs as leaves, for the loss pieces alone.
    let outs = try noGrad { try model.forward(x, capture: [.attentionOutput], hooks: nil).attentionOutput }.map { t -> Tensor in
        let c = t.copy(); c.requiresGrad = true; return c
    }
    let sims = try noGrad { try outs.map { try Losses.patchSimilarities($0, batch: count, dropClassToken: drop) } }
    let ranges = sims.map { s in (s.array.min()!, s.array.max()!) }
    let windows = sims.map { s in KDEGrid(s.ptr, count: s.count, points: Losses.kdePoints, bandwidth: Losses.kdeBandwidth)!.window }
    print("similarity ranges per block: \(ranges.map { String(format: "[%.3f, %.3f]", $0.0, $0.1) }.joined(separator: " ")); KDE window \(windows)")

    let apaUsed = try Synthesis.priors(model: model, count: count, seed: 0).blocks
    let pieces: [(String, () throws -> Void)] = [
        ("plain fwd+bwd", {
            x.zeroGrad()
            try Tensor.crossEntropy(model.forward(x, capture: [], hooks: nil).logits, labels: labels).backward()
        }),
        ("fwd+bwd, attention outputs captured", {
            x.zeroGrad()
            let o = try model.forward(x, capture: [.attentionOutput], hooks: nil)
            try Tensor.crossEntropy(o.logits, labels: labels).backward()
        }),
        ("fwd+bwd + PSE, after (fused)", {
            x.zeroGrad()
            let o = try model.forward(x, capture: [.attentionOutput], hooks: nil)
            let pse = try Losses.psaqEntropy(o.attentionOutput, batch: count, dropClassToken: drop)
            try (Tensor.crossEntropy(o.logits, labels: labels) + pse).backward()
        }),
        ("fwd+bwd + APA (SARDFQ, latter-half blocks)", {
            x.zeroGrad()
            let o = try model.forward(x, capture: [.attention], hooks: nil)
            let maps = try apaUsed.map { try info.attentionMap(block: $0.block, probs: o.attention[$0.block], batch: count) }
            let apa = try Losses.apaLoss(maps: maps, priors: apaUsed.map(\.prior), weights: apaUsed.map(\.weight))
            try (Tensor.crossEntropy(o.logits, labels: labels) + apa * 100).backward()
        }),
        ("PSE alone fwd+bwd, after", {
            for o in outs { o.zeroGrad() }
            try Losses.psaqEntropy(outs, batch: count, dropClassToken: drop).backward()
        }),
        ("PSE alone fwd, after", {
            _ = try noGrad { try Losses.psaqEntropy(outs, batch: count, dropClassToken: drop) }
        }),
        ("KDE alone fwd+bwd on (B, S), after (no symmetry)", {
            for s in sims { let l = s.copy(); l.requiresGrad = true; try Losses.kdeEntropy(l).entropy.backward() }
        }),
        ("similarities fwd+bwd, composite", {
            for o in outs { o.zeroGrad(); try Losses.patchSimilarities(o, batch: count, dropClassToken: drop).sum().backward() }
        }),
    ]
    for (_, body) in pieces { try body() }
    var times = [[Double]](repeating: [], count: pieces.count)
    for _ in 0..<reps {
        for (i, p) in pieces.enumerated() { let t0 = now(); try p.1(); times[i].append(now() - t0) }
    }
    let med = times.map { $0.sorted()[$0.count / 2] * 1000 }
    print("| piece | ms (median of \(reps)) | % of plain fwd+bwd |")
    print("|---|---:|---:|")
    for (i, p) in pieces.enumerated() { print("| \(p.0) | \(String(format: "%.2f", med[i])) | \(String(format: "%.1f", 100 * med[i] / med[0]))% |") }
}
