import Datasets
import Foundation
import Plot
import Testing
@testable import Runtime
@testable import Script

// The HTML notebook every `sardfq run` writes (docs/scripting.md, "The run's notebook").

private func notebook(_ source: String) throws -> RunNotebook {
    let file = SourceFile(name: "r.dfq", text: source)
    return RunNotebook(file: file, program: try Parser.parse(file))
}

@Test func sectionsFollowMarkersOrCommentBlocks() throws {
    let marked = try notebook("# header\nlet a = 1\n\n# --- 1. First ---\nprint(a)\n# --- Second\nprint(2)\n")
    #expect(marked.sections.map(\.title) == ["Setup", "1. First", "Second"])
    #expect(marked.sections.map(\.lines) == [1...3, 4...5, 6...8])
    // Without markers: a comment block after a blank line opens a section; a comment inside a
    // statement group does not.
    let plain = try notebook("let a = 1\n\n# Tables\n# (two lines)\nlet t = 2\n# inline note\nprint(t)\n\n# Figures\nprint(3)\n")
    #expect(plain.sections.map(\.title) == ["Statements", "Tables", "Figures"])
    #expect(plain.sections[1].source == "# Tables\n# (two lines)\nlet t = 2\n# inline note\nprint(t)")
    // Events land in the section whose statement is running.
    plain.enter(line: 5); plain.record(.printed("a\n")); plain.record(.printed("b\n"))
    plain.enter(line: 10); plain.record(.progress("synthesize 4/4  0:00"))
    guard case .printed(let text)? = plain.sections[1].events.first else { Issue.record("no print"); return }
    #expect(text == "a\nb\n" && plain.sections[1].events.count == 1, "consecutive prints are one block")
    #expect(plain.sections[2].events.count == 1 && plain.sections[0].events.isEmpty)
}

@Test func markdownTablesBecomeHTMLTables() {
    let html = NotebookPage.markdown("# Table 3\n| a | b \\| c |\n|---|---:|\n| 1 | <x> |\n\nnote & more\n")
    #expect(html == "<h3>Table 3</h3><table><thead><tr><th>a</th><th>b | c</th></tr></thead><tbody><tr><td>1</td><td>&lt;x&gt;</td></tr></tbody></table><p>note &amp; more</p>")
}

/// Width and height from a PNG's IHDR, nil when `bytes` is not a PNG.
private func pngSize(_ bytes: [UInt8]) -> (Int, Int)? {
    guard bytes.count > 24, bytes.prefix(8) == [137, 80, 78, 71, 13, 10, 26, 10] else { return nil }
    func be(_ o: Int) -> Int { bytes[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (be(16), be(20))
}

/// The data-URI images of a page, decoded.
private func embeddedPNGs(_ html: String) -> [[UInt8]] {
    html.components(separatedBy: "src=\"data:image/png;base64,").dropFirst().compactMap { part in
        Data(base64Encoded: String(part.prefix { $0 != "\"" })).map { [UInt8]($0) }
    }
}

/// A recipe that prints, writes a table and a figure, then fails: the notebook has all of it, and
/// the error in the section that raised it.
@Test func aFailedRunStillWritesItsNotebook() throws {
    let dir = tempDir("notebook-fail")
    defer { try? FileManager.default.removeItem(at: dir) }
    try """
    # --- 1. Tables ---
    let t = table(["k", "v"])
    t.add(["a", 1])
    save(t, "res/t.md")
    print("saved")
    # --- 2. Figures ---
    show(ones([2, 1, 4, 4]), path: "res/ones.png")
    print(nope_not_a_value.x)
    """.write(to: dir.appendingPathComponent("fails.dfq"), atomically: true, encoding: .utf8)
    let r = try runSardfq(["run", "fails.dfq", "--out", "out"], cwd: dir)
    #expect(r.status == 1)
    #expect(r.stderr.contains("notebook: out/res/index.html"), "\(r.stderr)")
    let html = try String(contentsOf: dir.appendingPathComponent("out/res/index.html"), encoding: .utf8)
    #expect(html.contains("stopped by an error"))
    let second = try #require(html.components(separatedBy: "<section id=\"s2\">").last)
    #expect(second.contains("<pre class=\"error\">") && second.contains("nope_not_a_value"), "the error is in section 2")
    let first = try #require(html.components(separatedBy: "<section id=\"s2\">").first)
    #expect(first.contains("<td>a</td><td>1</td>") && first.contains("saved\n"), "section 1 has its table and output")
    #expect(embeddedPNGs(html).compactMap(pngSize).count == 1)
}

/// The tutorial's notebook in headless Chromium: a screenshot in light and dark, and the DOM has
/// every figure (decoding) and table (with its rows).
@Test(.timeLimit(.minutes(5)))
func tutorialNotebookInChromium() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
        Issue.record("chromium is not installed (make deps installs it)")
        return
    }
    let dir = tempDir("notebook-tutorial")
    defer { try? FileManager.default.removeItem(at: dir) }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let r = try runSardfq(["run", root.appendingPathComponent("recipes/tutorial.dfq").path, "--quick", "--out", dir.path], cwd: dir, timeout: 300)
    #expect(r.status == 0, "\(r.stderr)")
    let page = dir.appendingPathComponent("plots/tutorial/index.html")
    let written = try FileManager.default.contentsOfDirectory(atPath: page.deletingLastPathComponent().path)
    let pngs = written.filter { $0.hasSuffix(".png") }.sorted()
    #expect(pngs == ["prior.png", "real_attention.png", "real_images.png", "synthetic_images.png"])

    func chromium(_ args: [String]) throws -> Subprocess.Result {
        try Subprocess.run("/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                 "--user-data-dir=\(dir.path)/chromium"] + args + [page.absoluteString],
                           directory: dir.path, timeout: 120)
    }
    let dom = String(decoding: try chromium(["--dump-dom"]).stdout, as: UTF8.self)
    #expect(dom.contains("<h2>8. Quantize with the synthetic images and evaluate"), "every section is there")
    let figures = dom.components(separatedBy: "<figure data-path=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    #expect(figures.sorted() == pngs.map { "plots/tutorial/" + $0 }, "one figure per PNG the run wrote")
    let sizes = embeddedPNGs(dom).compactMap(pngSize)
    #expect(sizes.count == pngs.count && sizes.allSatisfy { $0.0 > 0 && $0.1 > 0 }, "every figure decodes: \(sizes)")
    #expect(dom.contains("<div class=\"table\" data-path=\"plots/tutorial/losses.md\">"))
    #expect(dom.contains("<td>psaq_entropy</td>") && dom.contains("<td>soft_cross_entropy</td>"), "the table has its rows")
    #expect(dom.contains("class=\"progress\">synthesize"), "progress summaries")

    for (name, flags) in [("light", [String]()), ("dark", ["--force-dark-mode"])] {
        let shot = dir.appendingPathComponent("\(name).png")
        _ = try chromium(flags + ["--window-size=900,700", "--screenshot=\(shot.path)"])
        let image = try RGBImage.decode(path: shot.path)
        #expect(image.width == 900 && image.height == 700)
        let background = Int(image.pixels[0]) + Int(image.pixels[1]) + Int(image.pixels[2])  // top-left corner
        #expect(name == "light" ? background > 600 : background < 150, "\(name) background \(background)")
        let colours = Set(stride(from: 0, to: image.pixels.count, by: 3 * 97).map { image.pixels[$0] })
        #expect(colours.count > 8, "the \(name) screenshot is not blank")
    }
}
