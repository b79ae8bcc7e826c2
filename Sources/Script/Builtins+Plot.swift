import Foundation
import Tensor
import Plot

/// A figure in the language: made by `plot(…)` or `heatmap(…)`, drawn in the terminal by
/// printing it, written as PNG/SVG (plus its gnuplot script) by `save(fig, "x.png")`.
public final class FigureObject: ScriptSavable {
    public let chart: GnuplotChart
    public let title: String
    public init(_ chart: GnuplotChart, title: String) { self.chart = chart; self.title = title }
    public var typeName: String { "figure" }
    public var description: String {
        (try? Gnuplot().renderText(chart)) ?? "figure \"\(title)\" (gnuplot not found: apt-get install gnuplot-nox to draw it)"
    }
    public var saveExtensions: [String] { ["png", "svg"] }
    /// Renders through gnuplot in a scratch folder; `save` makes the final write atomic.
    public func serialized(for path: String) throws -> Data {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sardfq-fig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent).path
        _ = try Gnuplot().render(chart, to: out)
        return try Data(contentsOf: URL(fileURLWithPath: out))
    }
}

extension Builtins {
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
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        do { _ = try Gnuplot().render(chart, to: url.path) } catch let e as PlotError { throw ScriptError("\(e)") }
        try Output.writeProvenance(for: url, context: a.interpreter.context)
        return .string(url.path)
    }

    static func installPlot() {
        register(area: "plot", [
            Builtin(name: "plot", summary: "A line/point figure from series records {label, x, y, err?}; drawn by gnuplot.",
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
                             Param("terminal", .optional(.choice(["dumb"])), default: .nothing)]) { a in
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
            },
            Builtin(name: "heatmap", summary: "A heatmap figure of a 2-D tensor (rows top to bottom), e.g. an attention map.",
                    help: "Like `plot`: with `path` it is written (with its gnuplot script), otherwise returned as a figure.",
                    example: "let h = heatmap(tensor([[0, 1], [1, 0]]), title: \"attn\")\nprint(type(h))\n# expect: figure",
                    params: [Param("values", .tensor), Param("title", .string, default: .string("")),
                             Param("path", .optional(.string), default: .nothing)]) { a in
                let t = try a.tensor("values")
                guard t.rank == 2 else { throw a.bad("values", "a 2-D tensor expected, got shape \(shapeString(t.shape))") }
                let h = try Heatmap(title: try a.string("title"), matrix: t)
                if !a.isNone("path") { return try writeFigure(h, path: try a.string("path"), a) }
                return .object(FigureObject(h, title: h.title))
            },
        ])
    }
}
