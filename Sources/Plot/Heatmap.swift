import Foundation
import Tensor

/// A matrix shown as colored cells (row 0 at the top), e.g. attention maps or accuracy grids.
public struct Heatmap: GnuplotChart {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// `values[row][column]`.
    public var values: [[Double]]
    /// Optional tick labels for columns and rows.
    public var columnLabels: [String]?
    public var rowLabels: [String]?
    /// Print each cell's value on it (for small matrices).
    public var showValues: Bool
    /// Color range; nil lets gnuplot pick it from the data.
    public var colorRange: (Double, Double)?
    /// Square cells (x and y units of equal length), for image-like maps such as attention grids.
    public var squareCells = false
    public var size: (width: Int, height: Int)

    public init(title: String = "", xLabel: String = "", yLabel: String = "", values: [[Double]],
                columnLabels: [String]? = nil, rowLabels: [String]? = nil, showValues: Bool = false,
                size: (width: Int, height: Int) = (640, 560)) throws {
        guard let cols = values.first?.count, cols > 0, values.allSatisfy({ $0.count == cols }) else {
            throw PlotError.argument(op: "heatmap", message: "values must be a non-empty matrix with rows of equal length")
        }
        if let c = columnLabels, c.count != cols {
            throw PlotError.argument(op: "heatmap", message: "\(c.count) column labels for \(cols) columns")
        }
        if let r = rowLabels, r.count != values.count {
            throw PlotError.argument(op: "heatmap", message: "\(r.count) row labels for \(values.count) rows")
        }
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.values = values
        self.columnLabels = columnLabels
        self.rowLabels = rowLabels
        self.showValues = showValues
        self.size = size
    }

    /// A heatmap of a 2-D tensor `(rows, columns)` (e.g. one head's attention map).
    public init(title: String = "", xLabel: String = "", yLabel: String = "", matrix: Tensor,
                showValues: Bool = false) throws {
        guard matrix.rank == 2, matrix.count > 0 else {
            throw PlotError.argument(op: "heatmap", message: "expected a non-empty 2-D tensor, got \(shapeString(matrix.shape))")
        }
        let r = matrix.shape[0], c = matrix.shape[1], p = matrix.ptr
        let rows = (0..<r).map { i in (0..<c).map { Double(p[i * c + $0]) } }
        try self.init(title: title, xLabel: xLabel, yLabel: yLabel, values: rows, showValues: showValues)
    }

    public func gnuplotBody() -> String {
        let rows = values.count, cols = values[0].count
        var s = "$map << EOD\n"
        for row in values { s += row.map(gpNumber).joined(separator: " ") + "\n" }
        s += "EOD\n"
        s += commonSettings(title: title, xLabel: xLabel, yLabel: yLabel)
        s += "set xrange [-0.5:\(cols) - 0.5]\nset yrange [\(rows) - 0.5:-0.5]\n"
        s += "set palette defined (0 '#ffffff', 1 '#6baed6', 2 '#08306b')\nset tics out nomirror\n"
        if squareCells { s += "set size ratio -1\n" }
        if let r = colorRange { s += "set cbrange [\(gpNumber(r.0)):\(gpNumber(r.1))]\n" }
        if let c = columnLabels {
            s += "set xtics (" + c.enumerated().map { "\(gpString($1)) \($0)" }.joined(separator: ", ") + ") rotate by -45\n"
        }
        if let r = rowLabels {
            s += "set ytics (" + r.enumerated().map { "\(gpString($1)) \($0)" }.joined(separator: ", ") + ")\n"
        }
        s += "plot $map matrix with image notitle"
        if showValues {
            s += ", \\\n     $map matrix using 1:2:(sprintf('%.3g', $3)) with labels font ',8' notitle"
        }
        return s + "\n"
    }
}
