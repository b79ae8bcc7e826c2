import Foundation
import Plot
import Testing

private let gnuplotInstalled = Gnuplot().locate() != nil

@Suite struct ScatterTests {
    private func chart() throws -> Scatter {
        try Scatter(title: "t-SNE", x: [0, 1, 2, 3], y: [0, 1, 0, 1], classes: [0, 1, 1, 2], groups: [0, 1, 0, 1],
                    classNames: ["tee", "bag", "coat"], groupNames: ["real", "SARDFQ"])
    }

    @Test func scriptColoursByClassAndMarksByGroup() throws {
        let body = try chart().gnuplotBody()
        // One data block: x y colour(line type = class + 1) group.
        #expect(body.contains("$points << EOD\n0 0 1 0\n1 1 2 1\n2 0 2 0\n3 1 3 1\nEOD\n"))
        #expect(body.contains("using 1:($4 == 0 ? $2 : NaN):3 with points pt 7"))
        #expect(body.contains("using 1:($4 == 1 ? $2 : NaN):3 with points pt 9"))
        #expect(body.contains("lc rgb 'black' title \"real\"") && body.contains("title \"SARDFQ\""))
        #expect(body.contains("lc 3 title \"coat\""))
        #expect(body.contains("set linetype 1 lc rgb '#1f77b4'"))
    }

    @Test func mismatchedLengthsAndUnnamedIndicesAreErrors() {
        #expect(throws: PlotError.self) { try Scatter(x: [0, 1], y: [0], classes: [0, 0], groups: [0, 0], groupNames: ["a"]) }
        #expect(throws: PlotError.argument(op: "scatter", message: "group index 1 has no name (1 group names)")) {
            try Scatter(x: [0, 1], y: [0, 1], classes: [0, 0], groups: [0, 1], groupNames: ["a"])
        }
        #expect(throws: PlotError.argument(op: "scatter", message: "class 3 has no name (2 class names)")) {
            try Scatter(x: [0], y: [0], classes: [3], groups: [0], classNames: ["a", "b"], groupNames: ["a"])
        }
    }

    @Test(.enabled(if: gnuplotInstalled, "needs gnuplot")) func rendersPNG() throws {
        let dir = try makeTempDir("scatter")
        defer { cleanup(dir) }
        try Gnuplot().render(try chart(), to: dir + "/tsne.png")
        #expect(try pngSize(dir + "/tsne.png") == (800, 640))
        #expect(FileManager.default.fileExists(atPath: dir + "/tsne.gp"))
    }
}
