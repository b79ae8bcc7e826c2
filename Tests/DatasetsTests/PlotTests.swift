import Datasets
import Foundation
import Plot
import Testing
import Tensor

private let gnuplotInstalled = Gnuplot().locate() != nil

private func twoSeriesFigure() throws -> Figure {
    var f = Figure(title: "Top-1 vs bits_w (W4A4)", xLabel: "calibration images", yLabel: "accuracy (%)", logX: true)
    f.add(try Series(label: "SARDFQ", x: [8, 16, 32, 64], y: [60.1, 65.3, 68.0, 69.2], yErr: [1.2, 0.8, 0.5, 0.4]))
    f.add(try Series(label: "PSAQ-ViT \"v1\"", x: [8, 16, 32, 64], y: [40.5, 48.2, 55.0, 57.9], yErr: [2.0, 1.5, 1.1, 0.9], style: .points))
    return f
}

@Suite struct PlotTests {
    @Test(.enabled(if: gnuplotInstalled, "needs gnuplot")) func pngWithErrorBars() throws {
        let dir = try makeTempDir("plot")
        defer { cleanup(dir) }
        let f = try twoSeriesFigure()
        let script = try Gnuplot().render(f, to: dir + "/acc.png")
        #expect(script == dir + "/acc.gp")
        #expect(try pngSize(dir + "/acc.png") == (800, 500))
        let text = try String(contentsOfFile: script, encoding: .utf8)
        #expect(text.contains("$data0 << EOD") && text.contains("$data1 << EOD"))
        #expect(text.contains("yerrorlines") && text.contains("yerrorbars") && text.contains("set logscale x"))
        #expect(text.contains("set output 'acc.png'"), "the saved script makes the figure next to itself")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["acc.gp", "acc.png"], "no temp files left")

        // The saved script is self-contained: re-running it in its folder remakes the PNG.
        try FileManager.default.removeItem(atPath: dir + "/acc.png")
        let rerun = try Subprocess.run(try #require(Gnuplot().locate()), ["acc.gp"], directory: dir, timeout: 120)
        #expect(rerun.status == 0)
        #expect(try pngSize(dir + "/acc.png") == (800, 500))
    }

    @Test(.enabled(if: gnuplotInstalled, "needs gnuplot")) func svgHeatmapAndDumbTerminal() throws {
        let dir = try makeTempDir("plot")
        defer { cleanup(dir) }
        let h = try Heatmap(title: "attention", values: [[0.1, 0.9], [0.5, 0.5], [1, 0]], columnLabels: ["cls", "p1"],
                            rowLabels: ["h0", "h1", "h2"], showValues: true)
        try Gnuplot().render(h, to: dir + "/att.svg")
        let svg = try String(contentsOfFile: dir + "/att.svg", encoding: .utf8)
        #expect(svg.contains("<svg") && svg.contains("</svg>"))
        try Gnuplot().render(h, to: dir + "/att.png")
        #expect(try pngSize(dir + "/att.png") == (640, 560))

        var f = try twoSeriesFigure()
        f.logX = false
        let ascii = try Gnuplot().renderText(f, width: 70, height: 20)
        let lines = ascii.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count >= 18 && lines.count <= 22)
        #expect(ascii.contains("SARDFQ") && ascii.contains("calibration images"), "\(ascii)")
        #expect(throws: PlotError.self) { try Gnuplot().render(f, to: dir + "/fig.pdf") }
        // Empty figures and empty series still draw (axes and title only).
        var empty = Figure(title: "nothing yet")
        try Gnuplot().render(empty, to: dir + "/empty.png")
        empty.add(try Series(label: "no points", x: [], y: []))
        try Gnuplot().render(empty, to: dir + "/empty2.png")
        #expect(try pngSize(dir + "/empty2.png") == (800, 500))
    }

    @Test func missingGnuplotStillWritesTheScript() throws {
        let dir = try makeTempDir("plot")
        defer { cleanup(dir) }
        let empty = dir + "/emptybin"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let g = Gnuplot(searchPath: empty)
        #expect(g.locate() == nil)
        do {
            try g.render(try twoSeriesFigure(), to: dir + "/out/fig.png")
            Issue.record("expected gnuplotNotFound")
        } catch let e as PlotError {
            #expect(e == .gnuplotNotFound(script: dir + "/out/fig.gp"))
            #expect(e.description.contains("gnuplot not found: apt-get install gnuplot-nox"))
        }
        let script = try String(contentsOfFile: dir + "/out/fig.gp", encoding: .utf8)
        #expect(script.contains("60.1") && script.contains("EOD"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/out/fig.png"))
        #expect(throws: PlotError.self) { try g.renderText(try twoSeriesFigure()) }
    }

    @Test func truncatedOutputIsRefusedAndThePreviousFigureKept() throws {
        let dir = try makeTempDir("plot-full-disk")
        defer { cleanup(dir) }
        // A gnuplot that succeeds but writes only the start of a PNG, as on a full disk.
        let fake = dir + "/gnuplot"
        try """
            #!/bin/sh
            [ "$1" = "-e" ] && exit 0
            out=$(sed -n "s/^set output '\\(.*\\)'$/\\1/p" "$1")
            printf '\\211PNG\\r\\n\\032\\n0123456789abcdef' > "$out"
            """.write(toFile: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake)
        let previous = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 7, count: 20)
                            + [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
        #expect(PlotFormat.png.isComplete(previous))
        try previous.write(to: URL(fileURLWithPath: dir + "/fig.png"))
        do {
            try Gnuplot(executable: fake).render(try twoSeriesFigure(), to: dir + "/fig.png")
            Issue.record("a truncated PNG was accepted")
        } catch let e as PlotError {
            #expect(e.description.contains("incomplete") && e.description.contains("fig.png"), "\(e)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/fig.png")) == previous, "the previous figure must stay")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }
        #expect(left.isEmpty, "temporaries left: \(left)")
        #expect(!PlotFormat.svg.isComplete(Data("<svg><g>".utf8)) && PlotFormat.svg.isComplete(Data("<svg></svg>\n".utf8)))
    }

    @Test func temporariesOfKilledWritersAreRemoved() throws {
        let dir = try makeTempDir("plot-stale")
        defer { cleanup(dir) }
        // A process that has exited: its pid names no live process.
        let p = try Subprocess("/bin/true")
        try p.wait()
        let dead = dir + "/.fig.png.tmp-\(p.pid)-ABC.png", live = dir + "/.fig.png.tmp-\(getpid())-DEF.png"
        let other = dir + "/.other.png.tmp-\(p.pid)-GHI.png"
        for f in [dead, live, other] { try Data([1]).write(to: URL(fileURLWithPath: f)) }
        let removed = AtomicFile.removeStaleTemporaries(for: dir + "/fig.png")
        #expect(removed == [URL(fileURLWithPath: dead).lastPathComponent])
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: live) && FileManager.default.fileExists(atPath: other))
    }

    @Test func seriesAndHeatmapValidateShapes() {
        #expect(throws: PlotError.self) { try Series(label: "s", x: [1, 2], y: [1]) }
        #expect(throws: PlotError.self) { try Series(label: "s", x: [1, 2], y: [1, 2], yErr: [1]) }
        #expect(throws: PlotError.self) { try Heatmap(values: [[1, 2], [3]]) }
        #expect(throws: PlotError.self) { try Heatmap(values: [[1, 2]], columnLabels: ["a"]) }
        #expect(throws: PlotError.self) { try Heatmap(matrix: Tensor([1, 2, 3])) }
        let h = try? Heatmap(matrix: try! Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6]))
        #expect(h?.values == [[1, 2, 3], [4, 5, 6]])
    }
}

@Suite struct ImageGridTests {
    @Test func gridDenormalizesLaysOutAndUpscales() throws {
        let dir = try makeTempDir("grid")
        defer { cleanup(dir) }
        // Three 1×2×2 gray images in normalized space (mean 0.5, std 0.5): values -1 → 0, 1 → 255.
        let imgs = try Tensor(shape: [3, 1, 2, 2], [-1, 1, 1, -1, /**/ 1, 1, 1, 1, /**/ -1, -1, -1, -1])
        let g = try ImageGrid.render(imgs, mean: [0.5], std: [0.5], columns: 2, scale: 2, spacing: 1, background: 128)
        #expect(g.width == 2 * 4 + 1 && g.height == 2 * 4 + 1 && g.channels == 1)
        func px(_ x: Int, _ y: Int) -> UInt8 { g.pixels[y * g.width + x] }
        #expect(px(0, 0) == 0 && px(1, 1) == 0 && px(2, 0) == 255 && px(3, 1) == 255)  // image 0, upscaled ×2
        #expect(px(4, 0) == 128, "spacing column")
        #expect(px(5, 0) == 255 && px(8, 3) == 255)  // image 1
        #expect(px(0, 5) == 0 && px(5, 5) == 128, "image 2, then an empty cell")
        try ImageGrid.write(imgs, path: dir + "/grid.png", mean: [0.5], std: [0.5], columns: 2, scale: 2, spacing: 1, background: 128)
        let back = try RGBImage.decode(path: dir + "/grid.png")
        #expect(back.width == 9 && back.height == 9)
        #expect(back.pixels.enumerated().allSatisfy { $0.element == g.pixels[$0.offset / 3] })

        // RGB with ImageNet statistics, clamped.
        let rgb = Tensor.full([4, 3, 3, 3], 10)
        let c = try ImageGrid.render(rgb, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
        #expect(c.width == 2 * 3 + 1 && c.height == 7 && c.channels == 3 && c.pixels[0] == 255)
        #expect(throws: PlotError.self) { try ImageGrid.render(Tensor.zeros([2, 2, 3, 3]), mean: [0, 0], std: [1, 1]) }
    }

    /// NaN pixels (a diverged synthesis) render black instead of trapping in the byte conversion.
    @Test func nanPixelsRenderBlack() throws {
        let g = try ImageGrid.render(Tensor.full([1, 1, 4, 4], .nan), mean: [0.5], std: [0.5])
        #expect(g.pixels.allSatisfy { $0 == 0 })
    }
}

@Suite struct ResultTableTests {
    @Test func rendersTextMarkdownAndTSV() throws {
        var t = ResultTable(columns: ["Method", "W4A4", "W6A6", "APA"], title: "Table 3")
        try t.add(["PSAQ-ViT", 31.45, .number(63.2, decimals: 2), false])
        try t.add(["SARDFQ|ours", .number(65.124, decimals: 2), 71, true])
        #expect(throws: PlotError.self) { try t.add(["too short"]) }
        let text = t.renderText()
        #expect(text == """
            Table 3
            Method        W4A4   W6A6  APA
            -----------  -----  -----  ---
            PSAQ-ViT     31.45  63.20  ✗
            SARDFQ|ours  65.12     71  ✓

            """)
        #expect(t.markdown() == """
            **Table 3**

            | Method | W4A4 | W6A6 | APA |
            |---|---:|---:|---|
            | PSAQ-ViT | 31.45 | 63.20 | ✗ |
            | SARDFQ\\|ours | 65.12 | 71 | ✓ |

            """)
        #expect(t.tsv() == "Method\tW4A4\tW6A6\tAPA\nPSAQ-ViT\t31.45\t63.2\tfalse\nSARDFQ|ours\t65.124\t71\ttrue\n")
        let dir = try makeTempDir("table")
        defer { cleanup(dir) }
        try t.write(path: dir + "/t.md")
        try t.write(path: dir + "/t.tsv")
        #expect(try String(contentsOfFile: dir + "/t.md", encoding: .utf8) == t.markdown())
        #expect(try String(contentsOfFile: dir + "/t.tsv", encoding: .utf8) == t.tsv())
    }

    @Test func heatmapSquareCellsKeepTheAspect() throws {
        var h = try Heatmap(values: [[0, 1, 2, 3], [3, 2, 1, 0]])
        #expect(!h.gnuplotBody().contains("set size ratio -1"))
        h.squareCells = true
        #expect(h.gnuplotBody().contains("set size ratio -1\n"))
    }
}
