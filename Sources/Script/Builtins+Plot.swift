import Foundation
import Tensor
import Plot

extension Builtins {
    static func installPlot() { register(area: "plot", PlotArea.builtins) }

    /// The plot area's builtins.
    enum PlotArea {
        /// The table: one line per builtin naming its spec and function (below, in this order).
        static var builtins: [Builtin] { [
            Builtin("plot", plotSpec, plot),
            Builtin("heatmap", heatmapSpec, heatmap),
            Builtin("scatter", scatterSpec, scatter),
            Builtin("tsne", tsneSpec, tsne),
        ] }

        static var plotSpec: BuiltinSpec {
            BuiltinSpec(summary: "A line/point figure from series records {label, x, y, err?}; drawn by gnuplot.",
                        help: """
                        Each series is a record with `y` (numbers), optional `x` (default 0, 1, …), optional `err` (error bars) and \
                        `label`. With `path` the figure is written (PNG or SVG by extension) next to a self-contained gnuplot script \
                        `<name>.gp` with the data inline, plus a provenance sidecar; the path is returned. Without `path` the figure is \
                        returned: printing it draws it in the terminal (gnuplot's dumb terminal), `save(fig, "x.png")` writes it. \
                        `terminal: "dumb"` prints it at once. If gnuplot is missing the script is still written and the error says \
                        how to install it.
                        """,
                        example: "let f = plot([{label: \"a\", y: [1, 4, 9]}], title: \"squares\")\nprint(type(f))\n# expect: figure",
                        params: [Param("series", .oneOf([.list, .record])), Param("title", .string, default: .string("")),
                                 Param("xlabel", .string, default: .string("")), Param("ylabel", .string, default: .string("")),
                                 Param("logx", .bool, default: .bool(false)), Param("style", .choice(Series.Style.allCases.map(\.rawValue)), default: .string("linespoints")),
                                 Param("path", .optional(.string), default: .nothing),
                                 Param("terminal", .optional(.choice(["dumb"])), default: .nothing)])
        }
        static func plot(_ a: Args) throws -> Value {
            var items: [Value] = []
            switch try a.value("series") { case .list(let l): items = l.items; case let v: items = [v] }
            let style = Series.Style(rawValue: try a.string("style"))!
            var fig = Figure(title: try a.string("title"), xLabel: try a.string("xlabel"), yLabel: try a.string("ylabel"))
            fig.logX = try a.bool("logx")
            for item in items {
                guard case .record(let r) = item else { throw a.bad("series", "records {label, x, y, err} expected, got \(item.brief)") }
                guard let yv = r["y"] else { throw a.bad("series", "a series needs `y`") }
                let y = try numbers(yv, a, "series")
                let x = try r["x"].map { try numbers($0, a, "series") } ?? y.indices.map(Double.init)
                let err = try r["err"].map { try numbers($0, a, "series") }
                var label = ""
                if case .string(let s)? = r["label"] { label = s }
                do { fig.add(try Series(label: label, x: x, y: y, yErr: err, style: style)) } catch { throw a.bad("series", "\(error)") }
            }
            if !a.isNone("terminal") {
                do { a.interpreter.output(try Gnuplot().renderText(fig) + "\n") } catch { throw ScriptError("\(error)") }
                return .nothing
            }
            if !a.isNone("path") { return try writeFigure(fig, path: try a.string("path"), a) }
            return .object(FigureObject(fig, title: fig.title))
        }

        static var heatmapSpec: BuiltinSpec {
            BuiltinSpec(summary: "A heatmap figure of a 2-D tensor (rows top to bottom), e.g. an attention map.",
                        help: "Like `plot`: with `path` it is written (with its gnuplot script), otherwise returned as a figure.",
                        example: "let h = heatmap(tensor([[0, 1], [1, 0]]), title: \"attn\")\nprint(type(h))\n# expect: figure",
                        params: [Param("values", .tensor), Param("title", .string, default: .string("")),
                                 Param("square", .bool, default: .bool(false), help: "square cells (image-like maps); a wide matrix gets a wider canvas"),
                                 Param("path", .optional(.string), default: .nothing)])
        }
        static func heatmap(_ a: Args) throws -> Value {
            let t = try a.tensor("values")
            guard t.rank == 2 else { throw a.bad("values", "a 2-D tensor expected, got shape \(shapeString(t.shape))") }
            var h = try Heatmap(title: try a.string("title"), matrix: t)
            if try a.bool("square") {
                h.squareCells = true
                // About 480 px of plot height; the width follows the aspect ratio (within 640…1600 px).
                let aspect = Double(t.shape[1]) / Double(t.shape[0])
                h.size = (min(1600, max(640, Int(480 * aspect) + 180)), 560)
            }
            if !a.isNone("path") { return try writeFigure(h, path: try a.string("path"), a) }
            return .object(FigureObject(h, title: h.title))
        }

        static var scatterSpec: BuiltinSpec {
            BuiltinSpec(summary: "A scatter figure of points (N, 2), coloured by class and marked by group (e.g. image source).",
                        help: """
                        `classes` gives each point's class index (colour; `class_names` labels them in the legend), `groups` each \
                        point's group name (marker: circle, triangle, square, … in order of first appearance). Like `plot`: with \
                        `path` the figure is written next to its gnuplot script, otherwise returned. Figure 1(a) is \
                        `scatter(tsne(feats), classes: labels, groups: sources)`.
                        """,
                        example: "let f = scatter(tensor([[0, 0], [1, 1], [2, 0]]), classes: [0, 1, 1], groups: [\"real\", \"psaq\", \"real\"])\nprint(type(f))\n# expect: figure",
                        params: [Param("points", .tensor, help: "(N, 2): x and y per point"),
                                 Param("classes", .optional(.oneOf([.list, .tensor])), default: .nothing, help: "class index per point (default all 0)"),
                                 Param("groups", .optional(.list), default: .nothing, help: "group name per point (default one group)"),
                                 Param("class_names", .optional(.list), default: .nothing),
                                 Param("title", .string, default: .string("")),
                                 Param("xlabel", .string, default: .string("")), Param("ylabel", .string, default: .string("")),
                                 Param("path", .optional(.string), default: .nothing)])
        }
        static func scatter(_ a: Args) throws -> Value {
            let pts = try a.tensor("points")
            guard pts.rank == 2, pts.shape[1] == 2 else { throw a.bad("points", "(N, 2) expected, got shape \(shapeString(pts.shape))") }
            let n = pts.shape[0], p = pts.ptr
            var classes = [Int](repeating: 0, count: n)
            if !a.isNone("classes") {
                classes = try numbers(try a.value("classes"), a, "classes").map { v in
                    guard v == v.rounded(), v >= 0, v < 1e9 else { throw a.bad("classes", "class indices 0, 1, … expected, found \(v)") }
                    return Int(v)
                }
            }
            var groupNames: [String] = [], groups = [Int](repeating: 0, count: n)
            if a.isNone("groups") { groupNames = ["points"] } else {
                groups = try a.list("groups").map { v in
                    guard case .string(let s) = v else { throw a.bad("groups", "a group name (string) per point expected, found \(v.brief)") }
                    if let i = groupNames.firstIndex(of: s) { return i }
                    groupNames.append(s)
                    return groupNames.count - 1
                }
            }
            let names: [String]? = a.isNone("class_names") ? nil : try a.list("class_names").map { v in
                guard case .string(let s) = v else { throw a.bad("class_names", "strings expected, found \(v.brief)") }
                return s
            }
            let chart: Scatter
            do {
                chart = try Scatter(title: try a.string("title"), xLabel: try a.string("xlabel"), yLabel: try a.string("ylabel"),
                                    x: (0..<n).map { Double(p[2 * $0]) }, y: (0..<n).map { Double(p[2 * $0 + 1]) },
                                    classes: classes, groups: groups, classNames: names, groupNames: groupNames)
            } catch PlotError.argument(_, let message) { throw a.bad("points", message) }
            if !a.isNone("path") { return try writeFigure(chart, path: try a.string("path"), a) }
            return .object(FigureObject(chart, title: chart.title))
        }

        static var tsneSpec: BuiltinSpec {
            BuiltinSpec(summary: "Exact t-SNE of features (N, D) to a 2-D map (N, 2); the same seed gives the same map.",
                        help: """
                        O(N²) per iteration, for the few hundred points of a figure: perplexity-calibrated Gaussian affinities \
                        (binary search), early exaggeration 12 for the first min(250, iters/4) steps, momentum 0.5 → 0.8 with \
                        adaptive gains, learning rate max(N/48, 50), start N(0, 1e-4²) from `seed`. `perplexity` must be in \
                        [1, N − 1). Rows with NaN or infinite values are an error.
                        """,
                        example: "let x = concat([randn([10, 5], seed: 1), randn([10, 5], seed: 2) + 20])\nlet y = tsne(x, perplexity: 5, iters: 300, seed: 0)\nprint(y.shape, tsne(x, perplexity: 5, iters: 300, seed: 0) == y)\n# expect: [20, 2] true",
                        params: [Param("features", .tensor, help: "(N, D), e.g. `features(net, images)`"),
                                 Param("perplexity", .number, default: .number(30)),
                                 Param("iters", .integer(1...100_000), default: .int(1000)),
                                 Param("seed", .integer(0...Int(Int32.max)), default: .int(0))])
        }
        static func tsne(_ a: Args) throws -> Value {
            let seed = UInt64(try a.int("seed"))
            a.interpreter.context.recordSeed("tsne", seed)
            let t = TSNE(perplexity: try a.number("perplexity"), iterations: try a.int("iters"), seed: seed)
            do { return .tensor(try t.embed(try a.tensor("features")).embedding) } catch PlotError.parameter(_, let name, let message) {
                throw a.bad(name == "iterations" ? "iters" : name, message)
            }
        }
    }

    /// Numbers of a list or 1-D tensor argument.
    static func numbers(_ v: Value, _ a: Args, _ name: String) throws -> [Double] {
        switch v {
        case .tensor(let t): return t.array.map(Double.init)
        case .list(let l):
            return try l.items.map { item -> Double in
                guard case .number(let n) = item else { throw a.bad(name, "numbers expected, got \(item.brief)") }
                return n
            }
        default: throw a.bad(name, "a list of numbers expected, got \(v.brief)")
        }
    }

    /// Writes a chart to `path` under the output folder with its gnuplot script and provenance.
    static func writeFigure(_ chart: GnuplotChart, path: String, _ a: Args) throws -> Value {
        let url = a.interpreter.context.outputURL(path)
        do {
            try Output.prepareDirectory(for: url)
            // The sidecar first: whenever the figure exists, so does its provenance (a kill in
            // between leaves a sidecar for the figure being made, never a figure without one).
            try Output.writeProvenance(for: url, context: a.interpreter.context)
            _ = try Gnuplot().render(chart, to: url.path)
        } catch let e as PlotError { throw ScriptError("\(e)") }
        return .string(url.path)
    }

}
