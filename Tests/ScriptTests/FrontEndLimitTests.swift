import Foundation
import Testing
@testable import Script

// Hostile sources: each is a diagnostic with a position and a short message, never a hang, a
// crash or a message that echoes megabytes. (How long `check` takes on them: `sardfq bench frontend`.)

private func diagnostics(_ source: String) -> [Diagnostic] {
    Resolver.check(source: SourceFile(name: "h.dfq", text: source))
}

/// The hostile sources, built on demand (a test argument is printed whole in a failure report).
private func hostile(_ label: String) -> String {
    switch label {
    case "1 MB identifier": return "fn forever(n) { return forever(n" + String(repeating: "a", count: 1 << 20) + ") }"
    case "1 MB list item": return "let xs = [" + String(repeating: "a", count: 1 << 20) + "]"
    case "1 MB string": return "let s = \"" + String(repeating: "s", count: 1 << 20) + "\""
    case "3 MB sum": return "print(1" + String(repeating: " + 1", count: 750_000) + ")"
    case "a 20 000-character line": return "let x = [" + String(repeating: "1, ", count: 6666) + "]"
    case "10 000 nested brackets": return "let x = " + String(repeating: "[\n", count: 5000) + String(repeating: "]", count: 5000)
    default: return String(repeating: "let x = 1\n", count: 110_000)  // over 1 MB of short lines
    }
}

@Test(arguments: [("1 MB identifier", "too long"), ("1 MB list item", "too long"), ("1 MB string", "too long"),
                  ("3 MB sum", "too long"), ("a 20 000-character line", "line too long"), ("10 000 nested brackets", "nested too deeply"),
                  ("over 1 MB of short lines", "source too long")])
func hostileSourceIsOneShortDiagnostic(_ label: String, _ expected: String) {
    let ds = diagnostics(hostile(label))
    let first = ds.first.map { String($0.message.prefix(200)) } ?? "no diagnostic"
    #expect(first.contains(expected), "\(label): \(first)")
    for d in ds {
        #expect(d.pos.line >= 1 && d.pos.col >= 1, "\(label): \(d.header.prefix(200))")
        #expect(d.description.count < 800, "\(label): a \(d.description.count)-character diagnostic")
    }
}

@Test func longNamesAreCutInMessages() {
    let name = String(repeating: "q", count: 5000)
    let ds = diagnostics("print(\(name))")
    let d = ds.first
    #expect(d?.message == "unknown name '\(String(repeating: "q", count: 40))…'")
    #expect((d?.description.count ?? 0) < 500)
}

@Test func aHundredThousandLinesCheck() {
    // 100 000 short statements (under the size limit) parse and resolve.
    #expect(diagnostics(String(repeating: "let x = 1\n", count: 100_000)).isEmpty)
}

@Test func invalidUTF8IsAnErrorAtItsPosition() throws {
    var bytes = Array("let x = 1\nlet yé = \"ab".utf8)
    bytes.append(0xC3); bytes += Array("(c\"\n".utf8)
    do { _ = try SourceFile.decode(name: "u.dfq", bytes: bytes); Issue.record("accepted invalid UTF-8") } catch let d as Diagnostic {
        #expect(d.header == "u.dfq:2:13: error: invalid UTF-8 byte 0xC3")
        #expect(d.description.contains("\n    let yé = \"ab"))
    }
    do { _ = try SourceFile.decode(name: "n.dfq", bytes: Array("print(1)\n  x\0".utf8)); Issue.record("accepted NUL") } catch let d as Diagnostic {
        #expect(d.header.hasPrefix("n.dfq:2:4: error: NUL byte"))
    }
    // A leading byte-order mark is skipped; positions count from the text after it.
    let bom = try SourceFile.decode(name: "b.dfq", bytes: [0xEF, 0xBB, 0xBF] + Array("print(1)".utf8))
    #expect(bom.text == "print(1)")
}

@Test func checkNamesTheBadByteAndTheMissingFile() throws {
    let dir = tempDir("cli-bytes")
    defer { try? FileManager.default.removeItem(at: dir) }
    try Data([0x70, 0x72, 0x69, 0x6E, 0x74, 0x28, 0x22, 0xFF, 0x22, 0x29, 0x0A]).write(to: dir.appendingPathComponent("p.dfq"))
    let r = try runSardfq(["check", "p.dfq", "missing.dfq"], cwd: dir)
    #expect(r.status == 1)
    #expect(r.stderr.hasPrefix("p.dfq:1:8: error: invalid UTF-8 byte 0xFF\n"), "\(r.stderr)")
    #expect(r.stderr.contains("cannot read 'missing.dfq'"), "\(r.stderr)")
    #expect(!r.stderr.contains("usage:"), "\(r.stderr)")
}
