import Foundation

/// A scatter plot whose points are coloured by class and marked by group, e.g. a t-SNE map of
/// class-token features with colour = target class and marker = image source (real, PSAQ-ViT,
/// SARDFQ). The legend lists the groups (black markers) and then the classes present (coloured dots).
public struct Scatter: GnuplotChart {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// Point coordinates.
    public var x: [Double]
    public var y: [Double]
    /// Class index per point (colour), 0-based.
    public var classes: [Int]
    /// Group index per point (marker), 0-based into `groupNames`.
    public var groups: [Int]
    /// Legend names of the classes (nil: "class 0", "class 1", …) and of the groups.
    public var classNames: [String]?
    public var groupNames: [String]
    public var size: (width: Int, height: Int)

    /// Colours by class: matplotlib's tab10, then tab20's light shades; more classes repeat them.
    static let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                         "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
                         "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"]
    /// gnuplot point types by group: filled circle, triangle, square, diamond, inverted triangle, open circle.
    static let pointTypes = [7, 9, 5, 13, 11, 6]

    public init(title: String = "", xLabel: String = "", yLabel: String = "", x: [Double], y: [Double],
                classes: [Int], groups: [Int], classNames: [String]? = nil, groupNames: [String],
                size: (width: Int, height: Int) = (800, 640)) throws {
        let n = x.count
        guard y.count == n, classes.count == n, groups.count == n else {
            throw PlotError.argument(op: "scatter", message: "\(n) x values, \(y.count) y values, \(classes.count) classes and \(groups.count) groups: all must match")
        }
        if let bad = classes.first(where: { $0 < 0 }) {
            throw PlotError.argument(op: "scatter", message: "class indices must be 0 or more, got \(bad)")
        }
        if let bad = groups.first(where: { $0 < 0 || $0 >= groupNames.count }) {
            throw PlotError.argument(op: "scatter", message: "group index \(bad) has no name (\(groupNames.count) group names)")
        }
        if let names = classNames, let top = classes.max(), top >= names.count {
            throw PlotError.argument(op: "scatter", message: "class \(top) has no name (\(names.count) class names)")
        }
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
        self.x = x; self.y = y; self.classes = classes; self.groups = groups
        self.classNames = classNames; self.groupNames = groupNames; self.size = size
    }

    public func gnuplotBody() -> String {
        var s = "$points << EOD\n"
        for i in x.indices {
            // Column 3 is the gnuplot line type (1-based) whose colour the class gets.
            s += "\(gpNumber(x[i])) \(gpNumber(y[i])) \(classes[i] % Scatter.colors.count + 1) \(groups[i])\n"
        }
        s += "EOD\n"
        s += commonSettings(title: title, xLabel: xLabel, yLabel: yLabel)
        for (k, c) in Scatter.colors.enumerated() { s += "set linetype \(k + 1) lc rgb '\(c)'\n" }
        s += "set key outside right top box opaque\nset grid\n"
        guard !x.isEmpty else { return s + "set xrange [0:1]\nset yrange [0:1]\nplot NaN notitle\n" }
        var parts: [String] = []
        for (g, name) in groupNames.enumerated() {
            let pt = Scatter.pointTypes[g % Scatter.pointTypes.count]
            parts.append("$points using 1:($4 == \(g) ? $2 : NaN):3 with points pt \(pt) ps 1.1 lc variable notitle")
            parts.append("NaN with points pt \(pt) ps 1.1 lc rgb 'black' title \(gpString(name))")
        }
        // Only the classes that occur get a legend entry (a 1000-class model shows a few).
        for k in Set(classes).sorted() {
            let name = classNames?[k] ?? "class \(k)"
            parts.append("NaN with points pt 7 ps 1.1 lc \(k % Scatter.colors.count + 1) title \(gpString(name))")
        }
        return s + "plot " + parts.joined(separator: ", \\\n     ") + "\n"
    }
}
