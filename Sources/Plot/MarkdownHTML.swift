import Foundation

/// The Markdown the runtime writes (result tables) as HTML, for the run notebook and the Jupyter
/// kernel: pipe tables become tables, `#` lines headings, other lines paragraphs.
public enum MarkdownHTML {
    /// A Markdown file (a saved table) as HTML: pipe tables become tables, other non-empty lines paragraphs.
    public static func render(_ text: String) -> String {
        var h = "", table: [[String]] = []
        func cells(_ line: String) -> [String] {
            var t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("|") { t.removeFirst() }
            if t.hasSuffix("|") && !t.hasSuffix("\\|") { t.removeLast() }
            // `\|` is a pipe inside a cell.
            return t.replacingOccurrences(of: "\\|", with: "\u{1}").split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.replacingOccurrences(of: "\u{1}", with: "|").trimmingCharacters(in: .whitespaces) }
        }
        func flush() {
            guard !table.isEmpty else { return }
            let isRule: ([String]) -> Bool = { $0.allSatisfy { c in !c.isEmpty && c.allSatisfy { "-:".contains($0) } } }
            let header = table.count > 1 && isRule(table[1]) ? table[0] : nil
            h += "<table>"
            if let header { h += "<thead><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead>" }
            h += "<tbody>"
            for row in table.dropFirst(header == nil ? 0 : 2) { h += "<tr>" + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>" }
            h += "</tbody></table>"
            table = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("|") { table.append(cells(line)); continue }
            flush()
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            if t.hasPrefix("#") { h += "<h3>\(escape(String(t.drop { $0 == "#" || $0 == " " })))</h3>" } else { h += "<p>\(escape(t))</p>" }
        }
        flush()
        return h
    }

    public static func escape(_ s: String) -> String {
        var r = ""
        r.reserveCapacity(s.utf8.count)
        for ch in s {
            switch ch {
            case "&": r += "&amp;"
            case "<": r += "&lt;"
            case ">": r += "&gt;"
            case "\"": r += "&quot;"
            default: r.append(ch)
            }
        }
        return r
    }
}
