import Foundation
import Testing

/// The package root (…/Tests/ScriptTests/RecipeTests.swift → …).
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Every recipe in recipes/ (except the long training run, checked separately on one model).
private let recipeFiles: [String] = {
    let dir = packageRoot.appendingPathComponent("recipes")
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".dfq") }.sorted()
}()

/// Runs each recipe in its `--quick` profile in a scratch folder, and checks that it succeeds and
/// that the tables and figures it writes exist and parse (Markdown tables, PNG signatures).
@Test(arguments: recipeFiles)
func recipeRunsInQuickMode(_ file: String) throws {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("sardfq-recipe-\(file)-\(getpid())")
    try? FileManager.default.removeItem(at: out)
    try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: out) }
    var args = ["run", packageRoot.appendingPathComponent("recipes/\(file)").path, "--quick", "--out", out.path]
    if file == "train_models.dfq" { args += ["--set", "only=vit-t"] }
    let r = try runSardfq(args, cwd: out, env: ["SARDFQ_MODELS": packageRoot.appendingPathComponent("models").path], timeout: 600)
    #expect(r.status == 0, "\(file) failed:\n\(r.stdout)\n\(r.stderr)")
    // Everything written must be well-formed.
    let files = (FileManager.default.enumerator(atPath: out.path)?.compactMap { $0 as? String } ?? []).filter { !$0.hasPrefix(".cache") }
    #expect(!files.isEmpty, "\(file) wrote nothing")
    for f in files {
        let url = out.appendingPathComponent(f)
        if f.hasSuffix(".png") {
            let d = try Data(contentsOf: url)
            #expect(d.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(f) is not a PNG")
        } else if f.hasSuffix(".md") {
            let text = try String(contentsOf: url, encoding: .utf8)
            #expect(text.contains("|"), "\(f) is not a Markdown table")
        } else if f.hasSuffix(".provenance.json") {
            let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
            #expect(obj is [String: Any], "\(f) is not a JSON object")
        }
    }
}
