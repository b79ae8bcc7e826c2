import Foundation
import Testing
import Models
import Tensor
import Plot

/// The package root (…/Tests/ScriptTests/ImageNetPathTests.swift → …).
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Issue 7's end-to-end check of the ImageNet path: a recipe run on a timm-layout checkpoint
/// (`--set model=<timm preset> --set weights=<file>`) and an ImageNet-layout folder
/// (`--set data=<root>` with train/ and val/ class folders of PNGs), as a user would run the paper's
/// setting. The checkpoint has random weights, so only the plumbing is checked, not the accuracy.
@Suite("ImageNet path", .serialized)
struct ImageNetPathTests {
    /// Writes `root/{train,val}/<class>/<i>.png`: 3 classes, small RGB images of varied sizes (the
    /// eval transform resizes and crops them to 224).
    static func writeFolder(_ root: URL) throws {
        var rng = RNG(seed: 5)
        for split in ["train", "val"] {
            for (c, cls) in ["n01440764", "n01443537", "n01484850"].enumerated() {
                let dir = root.appendingPathComponent("\(split)/\(cls)")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                for i in 0..<(split == "train" ? 4 : 2) {
                    let w = 40 + 7 * i, h = 32 + 5 * c
                    // A class-coloured gradient plus noise, so the images differ.
                    let px = (0..<(w * h * 3)).map { k -> UInt8 in
                        let ch = k % 3, p = k / 3
                        let base = ch == c ? 180 : 40
                        return UInt8(clamping: base + (p % w) + Int(rng.nextDouble() * 30))
                    }
                    try PNGFile.write(path: dir.appendingPathComponent("\(i).png").path, width: w, height: h, channels: 3, pixels: px)
                }
            }
        }
    }

    /// One bit-width (`bits=[4]`) keeps it to 4 quantizations of the 12-block DeiT-Tiny.
    @Test func table2RunsOnATimmCheckpointAndAnImageFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sardfq-imagenet-e2e-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        // A random DeiT-Tiny saved with timm's state-dict keys and no sardfq metadata.
        let preset = try #require(Presets.named("deit_tiny_patch16_224"))
        let net = ModelFactory.build(preset.architecture, seed: 3)
        let ckpt = dir.appendingPathComponent("deit_tiny_random.safetensors")
        try Safetensors.write(path: ckpt.path, tensors: net.params.all)
        #expect(try Safetensors.read(path: ckpt.path).metadata["sardfq.architecture"] == nil)

        let data = dir.appendingPathComponent("imagenet")
        try Self.writeFolder(data)

        let r = try runSardfq(["run", packageRoot.appendingPathComponent("recipes/table2_main.dfq").path, "--quick",
                               "--set", "model=deit_tiny_patch16_224", "--set", "weights=\(ckpt.path)",
                               "--set", "data=\(data.path)", "--set", "bits=[4]", "--out", dir.path],
                              cwd: dir, timeout: 900)
        #expect(r.status == 0, "table2_main failed:\n\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("model deit_tiny_patch16_224: vit, 12 blocks"), "\(r.stdout)")
        // The test split is val/ (6 images), the real calibration images come from train/.
        #expect(r.stdout.contains("on 6 images"), "\(r.stdout)")

        let table = try String(contentsOf: dir.appendingPathComponent("plots/table2_main/table.md"), encoding: .utf8)
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines.first == "| model | calibration | W4A4 top-1 (%) |", "\(table)")
        for source in ["full precision", "Gaussian noise", "real images", "PSAQ-ViT", "SARDFQ"] {
            let row = try #require(lines.first { $0.contains("| \(source) |") }, "row \(source) in\n\(table)")
            // Every cell after the labels is a percentage (with ± std for the calibrated rows).
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            #expect(cells.count == 3, "\(row)")
            for cell in cells.dropFirst(2) {
                let v = Double(cell.split(separator: " ")[0])
                #expect(v != nil && v! >= 0 && v! <= 100, "cell '\(cell)' of \(row)")
            }
        }
        let png = try Data(contentsOf: dir.appendingPathComponent("plots/table2_main/deit_tiny_patch16_224.png"))
        #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        let prov = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("plots/table2_main/table.md.provenance.json"))) as? [String: Any]
        let params = prov?["parameters"] as? [String: Any]
        #expect(params?["data"] as? String == data.path)
    }

    /// `dataset(folder, split:)` picks train/ or val/, and `limit` spreads over the classes.
    @Test func folderSplitsAndLimit() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sardfq-imagenet-split-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeFolder(dir)
        let script = dir.appendingPathComponent("split.dfq")
        try """
        let tr = dataset("\(dir.path)", split: "train")
        let te = dataset("\(dir.path)", split: "test")
        print(tr.count, te.count, tr.classes == te.classes)
        print(dataset("\(dir.path)", split: "test", limit: 3).labels)
        print(dataset("\(dir.path)/train").count)
        let net = model("deit_tiny_patch16_224", weights: "random")
        print(accuracy(net, te) >= 0, accuracy(net, te, limit: 3) >= 0)
        """.write(to: script, atomically: true, encoding: .utf8)
        let r = try runSardfq(["run", script.path, "--out", dir.path], cwd: dir, timeout: 300)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout == "12 6 true\n[0, 1, 2]\n12\ntrue true\n", "\(r.stdout)")
        // A folder with train/ but no val/ or test/ names the missing split.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("val"))
        try "print(dataset(\"\(dir.path)\", split: \"test\").count)".write(to: script, atomically: true, encoding: .utf8)
        let bad = try runSardfq(["run", script.path, "--out", dir.path], cwd: dir, timeout: 60)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("split 'test' needs a folder"), "\(bad.stderr)")
    }
}
