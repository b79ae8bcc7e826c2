import Foundation

/// A source text with its display name ("recipes/x.dfq", "<repl>"), shared by every position in it.
public final class SourceFile {
    public let name: String
    public let text: String
    /// The text split into lines (without terminators), for showing the line under a diagnostic.
    public let lines: [Substring]

    /// Line ends are normalized to "\n", so a CRLF file reports the same positions as its LF twin.
    public init(name: String, text: String) {
        self.name = name
        let normalized = text.utf8.contains(13) ? text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n") : text
        self.text = normalized
        self.lines = normalized.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// The text of 1-based line `n` (empty when out of range).
    public func line(_ n: Int) -> String {
        n >= 1 && n <= lines.count ? String(lines[n - 1]) : ""
    }
}

/// A 1-based line/column position in a `SourceFile`. Columns count characters.
public struct SourcePos: CustomStringConvertible {
    public let file: SourceFile?
    public let line: Int
    public let col: Int

    public init(file: SourceFile?, line: Int, col: Int) {
        self.file = file
        self.line = line
        self.col = col
    }

    /// A position with no file (errors raised by builtins before they know where they are).
    public static let unknown = SourcePos(file: nil, line: 0, col: 0)

    /// `file:line:col`
    public var description: String { "\(file?.name ?? "<input>"):\(line):\(col)" }
}

/// One frame of the recipe call chain shown under a runtime error.
public struct CallFrame {
    public let function: String
    public let callSite: SourcePos
    /// How many identical frames in a row this one stands for (deep recursion prints once).
    public var repeats = 1
    public init(function: String, callSite: SourcePos) {
        self.function = function
        self.callSite = callSite
    }
}

/// Every error the language reports: syntax errors, name errors, wrong arguments and runtime failures.
/// Rendered as `file:line:col: error: message`, the source line, and a caret under the column.
public struct Diagnostic: Error, CustomStringConvertible {
    public enum Kind: String { case error, note }
    public var kind: Kind = .error
    public var message: String
    public var pos: SourcePos
    /// Innermost call first: the user functions the error passed through.
    public var callChain: [CallFrame] = []
    /// True for syntax errors caused by running out of input (the REPL then asks for more lines).
    public var atEndOfInput = false

    public init(_ message: String, at pos: SourcePos, atEndOfInput: Bool = false) {
        self.message = message
        self.pos = pos
        self.atEndOfInput = atEndOfInput
    }

    /// The one-line header, `file:line:col: error: message`.
    public var header: String { "\(pos): \(kind.rawValue): \(message)" }

    /// Header, source line with caret, then the call chain (each frame with its line).
    public var description: String {
        var out = header
        out += Diagnostic.excerpt(pos)
        for frame in callChain {
            out += "\n  in '\(frame.function)' called at \(frame.callSite)" + (frame.repeats > 1 ? " (\(frame.repeats) times)" : "")
            out += Diagnostic.excerpt(frame.callSite, indent: "    ")
        }
        return out
    }

    static func excerpt(_ pos: SourcePos, indent: String = "    ") -> String {
        guard let file = pos.file, pos.line >= 1, pos.line <= file.lines.count else { return "" }
        let line = file.lines[pos.line - 1]
        let count = line.count
        var caretCol = max(1, min(pos.col, count + 1))
        var text: String
        // A long line is shown as a window around the column (a 3 MB line must not be echoed).
        let width = 120
        if count > width + 40 {
            let start = max(0, min(caretCol - 1 - width / 2, count - width)), end = min(count, start + width)
            let from = line.index(line.startIndex, offsetBy: start), to = line.index(from, offsetBy: end - start)
            text = (start > 0 ? "…" : "") + String(line[from..<to]) + (end < count ? "…" : "")
            caretCol = caretCol - start + (start > 0 ? 1 : 0)
        } else {
            text = String(line)
        }
        text = text.replacingOccurrences(of: "\t", with: " ")
        return "\n" + indent + text + "\n" + indent + String(repeating: " ", count: caretCol - 1) + "^"
    }
}

/// Several diagnostics from one phase (the parser recovers and reports all syntax errors it finds).
public struct DiagnosticList: Error, CustomStringConvertible {
    public var items: [Diagnostic]
    public init(_ items: [Diagnostic]) { self.items = items }
    public var description: String { items.map(\.description).joined(separator: "\n") }
}

/// An error raised inside a builtin without a position; the interpreter attaches the call position.
public struct ScriptError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A name as a message shows it: whole up to 40 characters, else its first 40 and "…" (a message
/// about a 1 MB identifier must not be 1 MB long).
func shown(_ name: String) -> String {
    name.count <= 40 ? name : String(name.prefix(40)) + "…"
}

/// Edit distance for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    // Optimal string alignment: insertions, deletions, substitutions and adjacent swaps cost 1.
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
        }
    }
    return d[a.count][b.count]
}

/// The closest candidate to `name` within a small edit distance, for "did you mean 'x'?".
func suggestion(for name: String, among candidates: [String]) -> String? {
    var best: (String, Int)?
    // One- and two-letter names match too much; names past 64 characters are no typo of a name.
    guard name.count >= 3, name.count <= 64 else { return nil }
    let limit = name.count == 3 ? 1 : max(2, name.count / 3)
    let lower = name.lowercased()
    // The distance is at least the difference in length: most candidates are ruled out unseen.
    for c in candidates where c != name && abs(c.count - name.count) <= limit {
        let d = editDistance(lower, c.lowercased())
        if d <= limit, best == nil || d < best!.1 { best = (c, d) }
    }
    return best?.0
}
