import Foundation

/// A table of results (the paper's tables): named columns and rows of cells, rendered as aligned
/// text for the terminal, as Markdown for docs, or as TSV for other tools.
public struct ResultTable: CustomStringConvertible {
    /// One cell. Numbers keep their value so exports can format them; `decimals` fixes the
    /// digits after the point (nil: up to 4, trailing zeros dropped).
    public enum Cell: Equatable, CustomStringConvertible, ExpressibleByStringLiteral,
        ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral
    {
        case text(String)
        case number(Double, decimals: Int?)
        case integer(Int)
        case bool(Bool)
        case empty

        public init(stringLiteral v: String) { self = .text(v) }
        public init(floatLiteral v: Double) { self = .number(v, decimals: nil) }
        public init(integerLiteral v: Int) { self = .integer(v) }
        public init(booleanLiteral v: Bool) { self = .bool(v) }

        /// The cell as it is printed.
        public var description: String {
            switch self {
            case let .text(s): return s
            case let .integer(i): return String(i)
            case let .bool(b): return b ? "✓" : "✗"
            case .empty: return ""
            case let .number(v, decimals):
                if v.isNaN { return "nan" }
                if v.isInfinite { return v > 0 ? "inf" : "-inf" }
                if let d = decimals { return String(format: "%.\(max(0, d))f", v) }
                var s = String(format: "%.4f", v)
                while s.hasSuffix("0") { s.removeLast() }
                if s.hasSuffix(".") { s.removeLast() }
                return s == "-0" ? "0" : s
            }
        }

        /// Numbers are right-aligned in text output.
        var isNumeric: Bool {
            switch self {
            case .number, .integer: return true
            default: return false
            }
        }

        /// The value for TSV (full precision for numbers, `true`/`false` for booleans).
        var tsvValue: String {
            switch self {
            case let .number(v, _): return v.isNaN ? "nan" : String(format: "%.9g", v)
            case let .bool(b): return b ? "true" : "false"
            case let .text(s): return s.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
            default: return description
            }
        }
    }

    public var title: String
    public private(set) var columns: [String]
    public private(set) var rows: [[Cell]] = []

    public init(columns: [String], title: String = "") {
        self.columns = columns
        self.title = title
    }

    /// Appends a row; it must have one cell per column.
    public mutating func add(_ row: [Cell]) throws {
        guard row.count == columns.count else {
            throw PlotError.argument(op: "table.add", message: "row has \(row.count) cells but the table has \(columns.count) columns (\(columns.joined(separator: ", ")))")
        }
        rows.append(row)
    }

    public var rowCount: Int { rows.count }

    /// Column-aligned plain text: header, a rule, then rows; numbers right-aligned.
    public func renderText() -> String {
        let cells = rows.map { $0.map(\.description) }
        let widths = columns.indices.map { c in
            max(columns[c].count, cells.map { $0[c].count }.max() ?? 0)
        }
        func line(_ values: [String], numeric: [Bool]) -> String {
            values.indices.map { c in
                let pad = String(repeating: " ", count: widths[c] - values[c].count)
                return numeric[c] ? pad + values[c] : values[c] + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var out = title.isEmpty ? "" : title + "\n"
        out += line(columns, numeric: numericColumns) + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for (r, row) in rows.enumerated() {
            out += line(cells[r], numeric: row.map(\.isNumeric)) + "\n"
        }
        return out
    }

    /// Columns whose cells are all numbers (or empty): right-aligned, header included.
    var numericColumns: [Bool] {
        columns.indices.map { c in !rows.isEmpty && rows.allSatisfy { $0[c].isNumeric || $0[c] == .empty } }
    }

    /// GitHub-flavoured Markdown; numeric columns are right-aligned (`---:`). `|` in cells is escaped.
    public func markdown() -> String {
        func esc(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        let numericColumn = numericColumns
        var out = title.isEmpty ? "" : "**\(esc(title))**\n\n"
        out += "| " + columns.map(esc).joined(separator: " | ") + " |\n"
        out += "|" + numericColumn.map { $0 ? "---:|" : "---|" }.joined() + "\n"
        for row in rows { out += "| " + row.map { esc($0.description) }.joined(separator: " | ") + " |\n" }
        return out
    }

    /// Tab-separated values with a header line; numbers at full precision.
    public func tsv() -> String {
        var out = columns.map { Cell.text($0).tsvValue }.joined(separator: "\t") + "\n"
        for row in rows { out += row.map(\.tsvValue).joined(separator: "\t") + "\n" }
        return out
    }

    public var description: String { renderText() }

    /// Writes the table atomically: `.md` as Markdown, `.tsv` as TSV, anything else as text.
    public func write(path: String) throws {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        let text = ext == "md" ? markdown() : ext == "tsv" ? tsv() : renderText()
        try AtomicFile.write(text, to: path)
    }
}
