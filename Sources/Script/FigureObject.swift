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
