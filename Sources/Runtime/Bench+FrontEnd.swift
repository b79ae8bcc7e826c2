import Foundation
import Script

/// `sardfq bench frontend`: how long `sardfq check` (decode, lex, parse, resolve, render the
/// diagnostics) takes on hostile sources, and whether it grows linearly: 10 000 and 100 000 short
/// lines should differ by about 10×. Issue targets: every row under a second.
func benchFrontEnd(reps: Int) throws {
    func lines(_ n: Int) -> String { String(repeating: "let x = f(1, [2, 3], \"s\") + 4\n", count: n) }
    let cases: [(String, String)] = [
        ("recipes/table2_main.dfq × 1 (≈ 6 kB)", (try? String(contentsOfFile: "recipes/table2_main.dfq", encoding: .utf8)) ?? lines(150)),
        ("10 000 short lines", lines(10_000)),
        ("30 000 short lines (≈ 0.9 MB)", lines(30_000)),
        ("100 000 lines of `let x = 1` (≈ 1 MB)", String(repeating: "let x = 1\n", count: 100_000)),
        ("1 MB identifier (limit error)", "print(n" + String(repeating: "a", count: 1 << 20) + ")"),
        ("3 MB `1 + 1 + …` (limit error)", "print(1" + String(repeating: " + 1", count: 750_000) + ")"),
        ("10 000 nested brackets (depth error)", "let x = " + String(repeating: "[\n", count: 5000) + String(repeating: "]", count: 5000)),
        ("10 000 unknown names", (0..<10_000).map { "print(unknown_\($0))" }.joined(separator: "\n")),
    ]
    print("\n## Front end: `sardfq check` on hostile sources (ms, median of \(reps))\n")
    print("| source | bytes | check (ms) | result |")
    print("|---|---:|---:|---|")
    var perLine: [Double] = []
    for (label, text) in cases {
        let bytes = Array(text.utf8)
        var result = ""
        let t = medianTime(reps) {
            var problems = 0
            var first = ""
            do {
                let ds = Resolver.check(source: try SourceFile.decode(name: "bench.dfq", bytes: bytes))
                problems = ds.count
                first = ds.first?.message ?? ""
                _ = ds.map(\.description)
            } catch {
                first = "\(error)"
            }
            result = problems == 0 ? "no problems" : "\(problems) diagnostics: \(first.prefix(48))"
        }
        if label.hasPrefix("10 000 short") || label.hasPrefix("30 000 short") { perLine.append(t) }
        print("| \(label) | \(bytes.count) | \(f1(t * 1000)) | \(result) |")
    }
    if perLine.count == 2 { print("\n30 000 / 10 000 lines: \(f2(perLine[1] / perLine[0]))× the time for 3× the input (linear: 3×).") }
}
