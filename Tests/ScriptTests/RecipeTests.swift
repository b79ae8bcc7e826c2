import Foundation
import Testing

/// The package root (…/Tests/ScriptTests/RecipeTests.swift → …).
private let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Every recipe in recipes/ (except the long training run, checked separately on one model).
private let recipeFiles: [String] = {
    let dir = packageRoot.appendingPathComponent("recipes")
    return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".dfq") }.sorted()
}()

/// Files a recipe must write in its `--quick` profile (paths under the output folder); recipes not
/// listed must write at least one file.
private let expectedOutputs: [String: [String]] = [
    "headline.dfq": ["plots/headline/table.md", "plots/headline/top1.png", "plots/headline/sardfq_images.png"],
    "table1_alignment.dfq": ["plots/table1_alignment/table.md"],
    "study_apa_alignment.dfq": ["plots/study_apa_alignment/table.md"],
    "table2_main.dfq": ["plots/table2_main/table.md", "plots/table2_main/vit-t.png"],
    "table3_ablation.dfq": ["plots/table3_ablation/vit-t-w4a4.md"],
    "table4_priors.dfq": ["plots/table4_priors/vit-t-w4a4.md"],
    "study_method_choices.dfq": ["plots/study_method_choices/vit-s-w3a3.md"],
    "study_swin_quantizers.dfq": ["plots/study_swin_quantizers/table.md", "plots/study_swin_quantizers/variants.md", "plots/study_swin_quantizers/pixels.md"],
    "study_swin_soft_labels.dfq": ["plots/study_swin_soft_labels/table.md"],
    "fig1a_tsne.dfq": ["plots/fig1a_tsne/tsne.png", "plots/fig1a_tsne/tsne.gp", "plots/fig1a_tsne/tsne.png.provenance.json",
                       "plots/fig1a_tsne/table.md"],
    "fig1b_msr.dfq": ["plots/fig1b_msr/with_msr.png", "plots/fig1b_msr/without_msr.png",
                      "plots/fig1b_msr/with_msr.png.provenance.json"],
    "fig3_attention.dfq": ["plots/fig3_attention/attention.png", "plots/fig3_attention/table.md"]
        + ["real", "psaq", "sardfq"].flatMap { ["plots/fig3_attention/\($0)_images.png", "plots/fig3_attention/\($0)_attention.png"] },
    "fig4_priors.dfq": ["plots/fig4_priors/table.md"]
        + ["gmm", "laplace", "real"].flatMap { k in ["2", "5"].map { "plots/fig4_priors/\(k)_block\($0).png" } },
    "fig5_sensitivity.dfq": ["plots/fig5_sensitivity/vit-t-w4a4.md", "plots/fig5_sensitivity/vit-t-w4a4_alpha1.png", "plots/fig5_sensitivity/vit-t-w4a4_k_msr.png"],
    "tutorial.dfq": ["plots/tutorial/losses.md", "plots/tutorial/real_attention.png", "plots/tutorial/prior.png",
                     "plots/tutorial/synthetic_images.png"],
]

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
    for f in expectedOutputs[file] ?? [] { #expect(files.contains(f), "\(file) did not write \(f)") }
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
