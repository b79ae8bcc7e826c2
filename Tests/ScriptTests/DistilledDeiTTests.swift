import Foundation
import Testing

/// A distilled DeiT (two prefix tokens, two heads) loaded from timm's shapes goes through every
/// generator and the quantizer, and its class-token attention maps cover exactly the patches.
@Test func distilledDeiTSynthesizesQuantizesAndShowsAttention() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let weights = root.appendingPathComponent("Tests/ModelsTests/Fixtures/deit_distilled_2ch.safetensors").path
    let dir = tempDir("distilled")
    defer { try? FileManager.default.removeItem(at: dir) }
    try """
    let net = model("deit", weights: "\(weights)", heads: 2)
    print(net.input_shape, net.classes)
    for m in ["psaq", "sardfq", "smi"] {
      let imgs = synthesize(net, method: m, images: 4, iters: 3, seed: 0)
      let q = quantize(net, w: 4, a: 4, calib: imgs)
      print(m, forward(q, imgs.images).shape)
    }
    let att = attention(net, randn([2, 2, 64, 64], seed: 1), block: 1)
    print(att.shape, "{sum(att[0][0]).item():.4f}")
    """.write(to: dir.appendingPathComponent("d.dfq"), atomically: true, encoding: .utf8)
    let r = try runSardfq(["run", "d.dfq"], cwd: dir, timeout: 300)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout == "[2, 64, 64] 5\npsaq [4, 5]\nsardfq [4, 5]\nsmi [4, 5]\n[2, 2, 8, 8] 1.0000\n", "\(r.stdout)")
}
