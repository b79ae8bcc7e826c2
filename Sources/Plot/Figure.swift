import Foundation

/// Something gnuplot can draw: it contributes the data blocks and commands of a script, after
/// the terminal and output lines (which the `Gnuplot` runner adds).
public protocol GnuplotChart {
    /// Width and height in pixels for PNG/SVG output.
    var size: (width: Int, height: Int) { get }
    /// The script body: inline data blocks (`$name << EOD … EOD`), settings and the plot command.
    func gnuplotBody() -> String
}

/// One data series of a `Figure`.
public struct Series {
    public enum Style: String, CaseIterable {
        case lines, points, linespoints
    }

    public var label: String
    public var x: [Double]
    public var y: [Double]
    /// Optional symmetric error bars (e.g. std over seeds), same length as `y`.
    public var yErr: [Double]?
    public var style: Style

    public init(label: String, x: [Double], y: [Double], yErr: [Double]? = nil, style: Style = .linespoints) throws {
        guard x.count == y.count else {
            throw PlotError.argument(op: "series \"\(label)\"", message: "x has \(x.count) values but y has \(y.count)")
        }
        if let e = yErr, e.count != y.count {
            throw PlotError.argument(op: "series \"\(label)\"", message: "error bars have \(e.count) values but y has \(y.count)")
        }
        self.label = label
        self.x = x
        self.y = y
        self.yErr = yErr
        self.style = style
    }

    /// `y` against `0, 1, 2, …`.
    public init(label: String, y: [Double], yErr: [Double]? = nil, style: Style = .linespoints) throws {
        try self.init(label: label, x: y.indices.map(Double.init), y: y, yErr: yErr, style: style)
    }
}

/// A line/point chart with one or more series, optional error bars and log axes.
public struct Figure: GnuplotChart {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var logX: Bool
    public var logY: Bool
    /// Optional fixed axis ranges `(min, max)`.
    public var xRange: (Double, Double)?
    public var yRange: (Double, Double)?
    public var size: (width: Int, height: Int)

    public init(title: String = "", xLabel: String = "", yLabel: String = "", series: [Series] = [],
                logX: Bool = false, logY: Bool = false, size: (width: Int, height: Int) = (800, 500)) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.logX = logX
        self.logY = logY
        self.size = size
    }

    /// Appends a series.
    public mutating func add(_ s: Series) { series.append(s) }

    public func gnuplotBody() -> String {
        var s = ""
        for (i, ser) in series.enumerated() {
            s += "$data\(i) << EOD\n"
            for j in ser.x.indices {
                s += gpNumber(ser.x[j]) + " " + gpNumber(ser.y[j])
                if let e = ser.yErr { s += " " + gpNumber(e[j]) }
                s += "\n"
            }
            s += "EOD\n"
        }
        s += commonSettings(title: title, xLabel: xLabel, yLabel: yLabel)
        s += "set grid\nset key top left box opaque\n"
        if logX { s += "set logscale x\n" }
        if logY { s += "set logscale y\n" }
        if let r = xRange { s += "set xrange [\(gpNumber(r.0)):\(gpNumber(r.1))]\n" }
        if let r = yRange { s += "set yrange [\(gpNumber(r.0)):\(gpNumber(r.1))]\n" }
        // Series without points are left out of the plot command (gnuplot refuses empty data).
        let drawn = series.enumerated().filter { !$0.element.x.isEmpty }
        guard !drawn.isEmpty else {
            // gnuplot needs something to plot; an empty figure shows its axes and title.
            return s + "set xrange [0:1]\nset yrange [0:1]\nplot NaN notitle\n"
        }
        let parts = drawn.map { i, ser -> String in
            let lw = "lw 2 pt 7 ps 0.8 lc \(i + 1)"
            if ser.yErr != nil {
                let with = ser.style == .points ? "yerrorbars" : "yerrorlines"
                return "$data\(i) using 1:2:3 with \(with) \(lw) title \(gpString(ser.label))"
            }
            return "$data\(i) using 1:2 with \(ser.style.rawValue) \(lw) title \(gpString(ser.label))"
        }
        return s + "plot " + parts.joined(separator: ", \\\n     ") + "\n"
    }
}

/// Title and axis labels, shared by every chart.
func commonSettings(title: String, xLabel: String, yLabel: String) -> String {
    var s = ""
    if !title.isEmpty { s += "set title \(gpString(title))\n" }
    if !xLabel.isEmpty { s += "set xlabel \(gpString(xLabel))\n" }
    if !yLabel.isEmpty { s += "set ylabel \(gpString(yLabel))\n" }
    return s
}

/// A number as gnuplot reads it (NaN for missing values, which gnuplot skips).
func gpNumber(_ v: Double) -> String {
    if v.isNaN { return "NaN" }
    if v.isInfinite { return v > 0 ? "1e308" : "-1e308" }
    return String(format: "%.9g", v)
}

/// A double-quoted gnuplot string literal. Terminals are set `noenhanced`, so `_` and `^` in
/// labels like `W4A4_acc` print as they are.
func gpString(_ s: String) -> String {
    var out = "\""
    for ch in s {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default: out.append(ch)
        }
    }
    return out + "\""
}
