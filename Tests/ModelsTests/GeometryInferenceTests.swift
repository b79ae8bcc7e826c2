import Foundation
import Testing
import Models
import Tensor

/// timm checkpoints of geometries no preset has load from their shapes alone
/// (`ModelFactory.load(timm:family:geometry:)`, `model("vit"|"deit"|"swin", weights:)`) and match
/// timm's logits; a state dict that fits no architecture is refused with the key that does not fit.
@Suite("checkpoint geometry")
struct GeometryInferenceTests {
    static func path(_ name: String) -> String {
        Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "safetensors")!.path
    }

    /// (fixture, family, heads given, image side given)
    static let cases: [(String, String, Int?, Int?)] = [
        ("vit_40_p5", "vit", 5, nil),        // 40×40 in patches of 5, width 80, 5 heads, MLP ratio 2, 3 classes
        ("vit_gray", "deit", 3, nil),        // 1 channel, width 48
        ("deit_distilled_2ch", "deit", 2, nil), // 2 channels, 64×64, distillation token and second head
        ("swin_one_stage", "swin", nil, 16), // one stage
        ("swin_small_odd", "swin", nil, 32), // three stages, 1 head in the first
        ("swin_rgb", "swin", nil, 56),
    ]

    @Test(arguments: cases.map(\.0))
    func loadsFromShapesAndMatchesTimm(_ name: String) throws {
        let (_, family, heads, side) = try #require(Self.cases.first { $0.0 == name })
        let fx = try Fixture(name)
        let geometry = CheckpointGeometry(heads: heads, imgSize: side.map { [$0, $0] })
        let model = try ModelFactory.load(timm: Self.path(name), family: family, geometry: geometry)
        #expect(model.architecture == fx.architecture, "\(name): \(model.architecture.json())")
        let out = try model.forward(fx.input, capture: [.attention], hooks: nil)
        expectClose(out.logits, fx["__logits__"]!, atol: 1e-4, rtol: 1e-4, "\(name) logits")
        expectClose(out.features, fx["__pre_logits__"]!, atol: 1e-4, rtol: 1e-4, "\(name) features")
        expectClose(out.attention[0], fx["__attn_block0__"]!, atol: 1e-5, rtol: 1e-4, "\(name) attention of block 0")
    }

    @Test func headsAreAskedForWhenTheWidthIsNotAMultipleOf64() throws {
        #expect { try ModelFactory.load(timm: Self.path("vit_40_p5"), family: "vit") } throws: { e in
            "\(e)".contains("width 80 is not a multiple of 64") && "\(e)".contains("heads:")
        }
    }

    /// Damaged or foreign state dicts: the error names the key (or shape) that does not fit.
    @Test func stateDictsThatFitNoArchitectureNameTheKey() throws {
        let fx = try Fixture("vit_40_p5")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("geometry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ name: String, _ edit: ([(String, Tensor)]) throws -> [(String, Tensor)]) throws -> String {
            let p = dir.appendingPathComponent(name + ".safetensors").path
            try Safetensors.write(path: p, tensors: try edit(fx.stateDict))
            return p
        }
        let noHead = try write("no_head") { $0.filter { $0.0 != "head.weight" } }
        #expect { try ModelFactory.load(timm: noHead, family: "vit", geometry: CheckpointGeometry(heads: 5)) } throws: { "\($0)".contains("'head.weight'") }
        let badBlock = try write("bad_block") { sd in
            try sd.map { $0.0 == "blocks.1.mlp.fc1.weight" ? ($0.0, try Tensor(shape: [7, 80], [Float](repeating: 0, count: 560))) : $0 }
        }
        #expect { try ModelFactory.load(timm: badBlock, family: "vit", geometry: CheckpointGeometry(heads: 5)) } throws: { "\($0)".contains("blocks.1.mlp.fc1.weight") }
        // A distillation token without its head.
        let distilled = try write("distilled") { $0 + [("dist_token", try Tensor(shape: [1, 1, 80], [Float](repeating: 0, count: 80)))] }
        #expect { try ModelFactory.load(timm: distilled, family: "deit", geometry: CheckpointGeometry(heads: 5)) } throws: { "\($0)".contains("'head_dist.weight'") }
        #expect { try ModelFactory.load(timm: Self.path("vit_40_p5"), family: "swin") } throws: { "\($0)".contains("'layers.0") || "\($0)".contains("Swin") }
    }
}
