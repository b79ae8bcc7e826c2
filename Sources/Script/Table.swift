import Foundation
import Plot

/// A results table in the language: `table(["method", "W4A4"])`, `t.add([...])`, printed aligned in
/// the REPL and saved as Markdown (`.md`), TSV (`.tsv`) or aligned text (`.txt`).
///
/// Rendering is Plot's `ResultTable` (so recipe tables and the Plot area's tables look the same);
/// this class keeps the language values too, for `t.rows` and `t.column(name)`.
public final class Table: ScriptSavable {
    public private(set) var table: ResultTable
    public private(set) var rows: [[Value]] = []
    /// Fixed decimals for non-integral numbers; nil shows up to 4 (trailing zeros dropped).
    public let digits: Int?

    public init(columns: [String], title: String = "", digits: Int? = nil) {
        self.table = ResultTable(columns: columns, title: title)
        self.digits = digits
    }

    public var columns: [String] { table.columns }
    public var typeName: String { "table" }
    public var memberNames: [String] { ["add", "columns", "rows", "column", "title"] }
    public var saveExtensions: [String] { ["md", "tsv", "txt"] }

    /// The cell a value shows as.
    func cell(_ v: Value) -> ResultTable.Cell {
        switch v {
        case .number(let n) where n == n.rounded() && abs(n) < 1e15: return .integer(Int(n))
        case .number(let n): return .number(n, decimals: digits)
        case .bool(let b): return .bool(b)
        case .nothing: return .empty
        case .string(let s): return .text(s)
        default: return .text(v.display)
        }
    }

    /// Appends a row; it must have one value per column.
    public func add(_ row: [Value]) throws {
        guard row.count == columns.count else {
            throw ScriptError("a row of this table needs \(columns.count) values (\(columns.joined(separator: ", "))), got \(row.count)")
        }
        try table.add(row.map(cell))
        rows.append(row)
    }

    public func member(_ name: String) throws -> Value? {
        switch name {
        case "columns": return .list(columns.map { .string($0) })
        case "rows": return .list(rows.map { .list($0) })
        case "title": return .string(table.title)
        case "add":
            return Builtin.method("add", summary: "Appends a row (a list with one value per column, or a record).",
                                  params: [Param("row", .oneOf([.list, .record]))]) { a in
                switch try a.value("row") {
                case .list(let l): try self.add(l.items)
                case .record(let r):
                    let missing = self.columns.filter { r[$0] == nil }
                    guard missing.isEmpty else { throw ScriptError("the row has no field for column(s) \(missing.joined(separator: ", "))") }
                    try self.add(self.columns.map { r[$0]! })
                default: break
                }
                return .nothing  // like Python's list.append: the REPL prints nothing
            }
        case "column":
            return Builtin.method("column", summary: "The values of one column.", params: [Param("name", .string)]) { a in
                let n = try a.string("name")
                guard let k = self.columns.firstIndex(of: n) else {
                    throw ScriptError("the table has no column '\(n)' (columns: \(self.columns.joined(separator: ", ")))")
                }
                return .list(self.rows.map { $0[k] })
            }
        default: return nil
        }
    }

    /// Aligned text with a rule under the header (what `print(t)` shows).
    public var description: String {
        var s = table.renderText()
        if s.hasSuffix("\n") { s.removeLast() }
        return s
    }

    public func serialized(for path: String) throws -> Data {
        switch (path as NSString).pathExtension.lowercased() {
        case "md", "markdown": return Data(table.markdown().utf8)
        case "tsv": return Data(table.tsv().utf8)
        case "txt": return Data(table.renderText().utf8)
        case let ext: throw ScriptError("a table saves as .md, .tsv or .txt, not '.\(ext)'")
        }
    }
}
