import Foundation
import Testing
@testable import Script

/// Every builtin's documented example runs, and its `# expect:` lines match what it prints.
@Test(arguments: Builtins.names)
func builtinExample(_ name: String) throws {
    let b = try #require(Builtins.lookup(name))
    #expect(!b.summary.isEmpty, "\(name) has no summary")
    #expect(!b.example.isEmpty, "\(name) has no example")
    #expect(Builtins.areaOrder.contains(b.area), "\(name) is in unknown area '\(b.area)'")
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("example-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: tmp) }
    let r = runScript(b.example, name: "example of \(name)", outDir: tmp, seconds: 60)
    #expect(r.error == nil, "example of \(name) failed: \(r.error.map { "\($0)" } ?? "")")
    let exp = Expectations(b.example)
    if !exp.output.isEmpty {
        var got = r.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if got.last == "" { got.removeLast() }
        #expect(got == exp.output, "output of the example of \(name)")
    }
}

@Test func tablesHaveTheThreeOwnAreas() {
    let areas = Set(Builtins.all.map(\.area))
    #expect(areas.isSuperset(of: ["tensor", "loss", "runtime"]))
    #expect(Builtins.lookup("cross_entropy")?.area == "loss")
    #expect(Builtins.lookup("print")?.area == "runtime")
}

/// A builtin defined like the other areas will define theirs, used to check argument errors.
func quantizeLike() -> Builtin {
    Builtin(name: "quantize", summary: "test", example: "",
            params: [Param("net", .any), Param("w", .integer(2...8), default: .int(4)),
                     Param("mode", .choice(["minmax", "percentile"]), default: .string("minmax")),
                     Param("calib", .optional(.list), default: .nothing)]) { a in
        .string("W\(try a.int("w")) \(try a.string("mode")) \(a.isNone("calib") ? "nocalib" : "calib")")
    }
}

func runWith(_ b: Builtin, _ source: String) -> RunResult {
    var out = ""
    let interp = Interpreter { out += $0 }
    interp.globals.define(b.name, .builtin(b))
    do { try interp.run(source: source, name: "args.dfq"); return RunResult(output: out, error: nil) } catch {
        return RunResult(output: out, error: error)
    }
}

@Test func argumentCheckingMessages() throws {
    let b = quantizeLike()
    #expect(runWith(b, "print(quantize(1, w: 3, calib: [1]))").output == "W3 minmax calib\n")
    #expect(runWith(b, "print(quantize(1, mode: \"percentile\"))").output == "W4 percentile nocalib\n")
    #expect(runWith(b, "print(quantize(1, calib: none))").output == "W4 minmax nocalib\n")
    let cases: [(String, String)] = [
        ("quantize(1, w: \"four\")", "1:13: bad argument 'w' to 'quantize' (integer 2…8 expected, got \"four\")"),
        ("quantize(1, w: 9)", "1:13: bad argument 'w' to 'quantize' (integer 2…8 expected, got 9)"),
        ("quantize(1, w: 4.5)", "1:13: bad argument 'w' to 'quantize' (integer 2…8 expected, got 4.5)"),
        ("quantize(1, mode: \"max\")", "1:13: bad argument 'mode' to 'quantize' (one of \"minmax\", \"percentile\" expected, got \"max\")"),
        ("quantize(1, 4, \"minmax\", [1], 5)", "1:31: too many arguments to 'quantize' (takes at most 4, got 5)"),
        ("quantize(w: 4)", "1:1: missing argument 'net' to 'quantize'"),
        ("quantize(1, bits: 4)", "1:13: unknown argument 'bits' to 'quantize'"),
        ("quantize(1, calib: 3)", "1:13: bad argument 'calib' to 'quantize' (list or none expected, got 3)"),
    ]
    for (src, expected) in cases {
        let r = runWith(b, src)
        let d = try #require(r.error as? Diagnostic, "\(src)")
        #expect(short(d).hasPrefix(expected), "\(src): \(short(d))")
    }
}

@Test func signaturesAreGeneratedFromParameters() {
    #expect(quantizeLike().signature == "quantize(net: any, w: int = 4, mode: \"minmax\"|\"percentile\" = \"minmax\", calib: list? = none)")
    #expect(Builtins.lookup("print")?.signature == "print(…values: any, sep: str = \" \")")
}

@Test func helpTextComesFromTheTable() throws {
    let text = Builtins.helpText(for: .string("range"))
    #expect(text.hasPrefix("range(start: int, end: int? = none, step: int = 1)\n  The integers"))
    #expect(text.contains("Example:\n  print(range(4)"))
    #expect(Builtins.helpText(for: .string("rnage")).contains("did you mean 'range'?"))
    let all = Builtins.helpText(for: .nothing)
    #expect(all.contains("tensor: "), "lists the tensor area")
    #expect(all.contains("runtime: "))
    let r = runScript("help(\"len\")")
    #expect(r.output.hasPrefix("len(x: any)"))
}

@Test func objectsPlugInThroughScriptObject() throws {
    final class Counter: ScriptObject {
        var n = 0
        var typeName: String { "counter" }
        var memberNames: [String] { ["n", "bump"] }
        var description: String { "counter at \(n)" }
        func member(_ name: String) throws -> Value? {
            switch name {
            case "n": return .int(n)
            case "bump": return Builtin.method("bump", summary: "adds", params: [Param("by", .integer(), default: .int(1))]) { a in
                self.n += try a.int("by"); return .object(self)
            }
            default: return nil
            }
        }
    }
    var out = ""
    let interp = Interpreter { out += $0 }
    interp.globals.define("c", .object(Counter()))
    try interp.run(source: "c.bump()\nc.bump(by: 5)\nprint(c.n, type(c), c)", name: "obj.dfq")
    #expect(out == "6 counter counter at 6\n")
    #expect(Completion.candidates(line: "c.b", interpreter: interp) == ["c.bump"])
    #expect(throws: Diagnostic.self) { try interp.run(source: "c.nope", name: "obj.dfq") }
}

@Test func tableSavesMarkdownTSVAndText() throws {
    let dir = tempDir("table")
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = runScript("""
    let t = table(["cfg", "acc", "ok"], title: "Ablation", digits: 1)
    t.add(["APA", 0.6543, true])
    t.add({cfg: "A|B", acc: 71, ok: false})
    save(t, "t.md")
    save(t, "t.tsv")
    save(t, "t.txt")
    t.add([1, 2])
    """, outDir: dir)
    #expect(r.diagnostics.first.map(short) == "7:3: a row of this table needs 3 values (cfg, acc, ok), got 2")
    let md = try String(contentsOf: dir.appendingPathComponent("t.md"), encoding: .utf8)
    #expect(md == "**Ablation**\n\n| cfg | acc | ok |\n|---|---:|---|\n| APA | 0.7 | ✓ |\n| A\\|B | 71 | ✗ |\n")
    let tsv = try String(contentsOf: dir.appendingPathComponent("t.tsv"), encoding: .utf8)
    #expect(tsv == "cfg\tacc\tok\nAPA\t0.6543\ttrue\nA|B\t71\tfalse\n")
    let txt = try String(contentsOf: dir.appendingPathComponent("t.txt"), encoding: .utf8)
    #expect(txt.hasPrefix("Ablation\ncfg  acc  ok\n"))
    let bad = runScript("save(table([\"a\"]), \"t.csv\")", outDir: dir)
    #expect(bad.diagnostics.first?.message == "bad argument 'path' to 'save' (a table saves as .md, .tsv, .txt, got \"t.csv\")")
}

/// Issue #19 item 11: creation builtins and broadcasts refuse a tensor over `Tensor.maxBytes`
/// with its shape and byte size, before allocating.
@Test func allocationBombsAreRefusedWithShapeAndBytes() {
    let z = runScript("let x = zeros([65536, 65536])")
    #expect(z.diagnostics.first.map { $0.message.contains("(65536, 65536)") && $0.message.contains("16.0 GiB") } == true,
            "\(z.diagnostics.map(short))")
    let b = runScript("let x = reshape(ones([32768]), [32768, 1]) * ones([65536])")
    #expect(b.diagnostics.first.map { $0.message.contains("(32768, 65536)") && $0.message.contains("8.0 GiB") } == true,
            "\(b.diagnostics.map(short))")
}
