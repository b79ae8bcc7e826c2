import Foundation
import Testing
import Models
@testable import Script
@testable import Synthesis
import Tensor

/// Runs a script with the synthesis builtins (and a `model(name)` stand-in: a preset with seeded
/// random weights) bound in the
/// interpreter's globals, so the global builtin table is not touched.
func runSynthesisScript(_ source: String, dir: URL) -> (output: String, error: Error?) {
    var out = ""
    let interp = Interpreter(context: RunContext(fresh: true, outputDirectory: dir)) { out += $0 }
    for b in Builtins.synthesisBuiltins() { interp.globals.define(b.name, .builtin(b)) }
    let model = Builtin(name: "model", summary: "test model", example: "",
                        params: [Param("name", .string), Param("weights", .optional(.string), default: .nothing)]) { a in
        let name = try a.string("name")
        guard let p = Presets.named(name) else { throw a.bad("name", "unknown preset \(name)") }
        return .object(ModelObject(ModelFactory.build(p.architecture, seed: 1), name: name, preprocessing: Presets.fashionMNIST))
    }
    interp.globals.define("model", .builtin(model))
    do { try interp.run(source: source, name: "test.dfq"); return (out, nil) } catch { return (out, error) }
}

@Suite struct SynthesisBuiltinTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synth-builtins-\(UUID().uuidString)")

    @Test func everyExampleRunsAndPrintsItsExpectations() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let names = Builtins.synthesisBuiltins().map(\.name)
        #expect(Set(names) == ["synthesize", "priors", "attention", "psaq_entropy", "apa_loss", "tv_loss", "show", "load_images"])
        for b in Builtins.synthesisBuiltins() {
            #expect(!b.example.isEmpty && !b.summary.isEmpty, "\(b.name) is documented")
            let r = runSynthesisScript(b.example, dir: dir)
            #expect(r.error == nil, "example of \(b.name): \(r.error.map { "\($0)" } ?? "")")
            let expected = b.example.split(separator: "\n").filter { $0.hasPrefix("# expect: ") }.map { String($0.dropFirst(10)) }
            let got = r.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
            #expect(got == expected, "output of the example of \(b.name)")
        }
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("noise.png").path))
    }

    @Test func synthesizeMatchesTheLibraryAndChecksArguments() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = runSynthesisScript("""
            let imgs = synthesize(model("vit-t"), method: "psaq", images: 2, iters: 3, seed: 5)
            save(imgs, "s.safetensors")
            print(imgs.method, imgs.count, len(imgs.labels))
            """, dir: dir)
        #expect(r.error == nil, "\(r.error.map { "\($0)" } ?? "")")
        #expect(r.output == "psaq 2 2\n")
        let saved = try ImageSet.load(path: dir.appendingPathComponent("s.safetensors").path)
        var o = SynthesisOptions(method: .psaq); o.iterations = 3
        o.mean = Presets.fashionMNIST.mean; o.std = Presets.fashionMNIST.std
        let direct = try Synthesis.generate(model: ModelFactory.build(Presets.named("vit-t")!.architecture, seed: 1), count: 2, seed: 5, options: o)
        #expect(saved.images.array == direct.images.array)
        let bad = runSynthesisScript("synthesize(model(\"vit-t\"), method: \"magic\")", dir: dir)
        #expect("\(bad.error.map { "\($0)" } ?? "")".contains("'method'"))
    }
}
