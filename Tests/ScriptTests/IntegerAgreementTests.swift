import Foundation
import Testing

/// The integer path against fake quantization on every shipped model, on the full Fashion-MNIST
/// test split: top-1 differs by at most 0.1 point at W8A8 and W4A4 (docs/quantization.md; other
/// bit-widths and reconstruction: recipes/study_integer.dfq).
@Test(.timeLimit(.minutes(15)))
func integerAndFakeQuantAgreeOnTheShippedModels() throws {
    let dir = tempDir("int8-agreement")
    defer { try? FileManager.default.removeItem(at: dir) }
    try """
    for name in ["vit-t", "vit-s", "swin-t"] {
      let net = model(name)
      let test = dataset("fashion-mnist", split: "test", model: net)
      let calib = sample(dataset("fashion-mnist", split: "train", model: net, limit: 2000), 32, seed: 0)
      for bits in [8, 4] {
        let f = quantize(net, w: bits, a: bits, calib: calib, execute: "fake")
        let i = quantize(net, w: bits, a: bits, calib: calib, execute: "int8")
        print("{name} {bits} {accuracy(f, test)} {accuracy(i, test)}")
      }
    }
    """.write(to: dir.appendingPathComponent("agree.dfq"), atomically: true, encoding: .utf8)
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let r = try runSardfq(["run", "agree.dfq"], cwd: dir, env: ["SARDFQ_MODELS": root.appendingPathComponent("models").path], timeout: 840)
    #expect(r.status == 0, "\(r.stderr.suffix(2000))")
    let rows = r.stdout.split(separator: "\n").map { $0.split(separator: " ") }
    #expect(rows.count == 6, "\(r.stdout)")
    for row in rows where row.count == 4 {
        let fake = Double(row[2]) ?? -1, int8 = Double(row[3]) ?? -1
        #expect(abs(fake - int8) <= 0.1 + 1e-9, "\(row[0]) W\(row[1])A\(row[1]): fake \(fake), int8 \(int8)")
    }
}
