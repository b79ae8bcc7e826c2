import Foundation
import Testing
import Plot
@testable import Runtime
@testable import Script

@Test func runWritesOutputsWithProvenanceAndKeepsThemOnError() throws {
    let dir = tempDir("cli-run")
    defer { try? FileManager.default.removeItem(at: dir) }
    let recipe = """
    let n = param("rows", 2)
    let t = table(["i", "sq"])
    for i in range(n) { t.add([i, i * i]) }
    t |> save("t.md")
    print("rows: {len(t)} quick: {quick()}")
    let boom = [1][5]
    print("not reached")
    """
    try recipe.write(to: dir.appendingPathComponent("r.dfq"), atomically: true, encoding: .utf8)
    let r = try runSardfq(["run", "r.dfq", "--set", "rows=3", "--quick", "--out", "results", "--set", "unused=1"], cwd: dir)
    #expect(r.status == 1)
    #expect(r.stdout == "rows: 3 quick: true\n")
    #expect(r.stderr.hasPrefix("r.dfq:6:15: error: index 5 out of range for a list of length 1\n    let boom = [1][5]\n"))
    #expect(r.stderr.contains("warning: --set unused=… was given but the recipe never reads param(\"unused\")"))
    let md = try String(contentsOf: dir.appendingPathComponent("results/t.md"), encoding: .utf8)
    #expect(md == "| i | sq |\n|---:|---:|\n| 0 | 0 |\n| 1 | 1 |\n| 2 | 4 |\n")
    let prov = try Data(contentsOf: dir.appendingPathComponent("results/t.md.provenance.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: prov) as? [String: Any])
    #expect((json["parameters"] as? [String: String]) == ["rows": "3"])
    #expect(json["recipe"] as? String == "r.dfq")
}

@Test func outPointingAtAFileIsAUsageError() throws {
    let dir = tempDir("cli-out-file")
    defer { try? FileManager.default.removeItem(at: dir) }
    try "print(1)\n".write(to: dir.appendingPathComponent("r.dfq"), atomically: true, encoding: .utf8)
    try "keep me\n".write(to: dir.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
    let r = try runSardfq(["run", "r.dfq", "--out", "notes.txt"], cwd: dir)
    #expect(r.status != 0 && r.stdout.isEmpty)
    #expect(r.stderr.contains("--out 'notes.txt' is a file, not a folder"), "\(r.stderr)")
    #expect(try String(contentsOf: dir.appendingPathComponent("notes.txt"), encoding: .utf8) == "keep me\n")
}

@Test func checkReportsAllProblemsWithoutRunning() throws {
    let dir = tempDir("cli-check")
    defer { try? FileManager.default.removeItem(at: dir) }
    try "print(\"side effect\")\nprint(nope)\nlet x = (1 +\nlet y = 2\n".write(to: dir.appendingPathComponent("bad.dfq"), atomically: true, encoding: .utf8)
    try "fn f(a) { return a }\nprint(f(1))\nprint(missing_name)\n".write(to: dir.appendingPathComponent("names.dfq"), atomically: true, encoding: .utf8)
    try "print(1)\n".write(to: dir.appendingPathComponent("good.dfq"), atomically: true, encoding: .utf8)
    let bad = try runSardfq(["check", "bad.dfq"], cwd: dir)
    #expect(bad.status == 1 && bad.stdout.isEmpty)
    #expect(bad.stderr.contains("bad.dfq:4:1: error: unexpected keyword 'let' in an expression"))
    let names = try runSardfq(["check", "names.dfq"], cwd: dir)
    #expect(names.status == 1 && names.stdout.isEmpty, "nothing runs")
    #expect(names.stderr.hasPrefix("names.dfq:3:7: error: unknown name 'missing_name'"))
    let good = try runSardfq(["check", "good.dfq"], cwd: dir)
    #expect(good.status == 0 && good.stderr.isEmpty && good.stdout.isEmpty)
}

@Test func versionDocAndUsage() throws {
    let dir = tempDir("cli-misc")
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(try runSardfq(["--version"], cwd: dir).stdout == "sardfq \(Version.string)\n")
    let doc = try runSardfq(["doc"], cwd: dir)
    #expect(doc.status == 0 && doc.stdout == Docs.markdown())
    let one = try runSardfq(["doc", "backward"], cwd: dir)
    #expect(one.stdout.hasPrefix("backward(y: tensor)\n"))
    let unknown = try runSardfq(["frobnicate"], cwd: dir)
    #expect(unknown.status == 2 && unknown.stderr.hasPrefix("sardfq: unknown command 'frobnicate'\nusage:"))
    let noFile = try runSardfq(["run", "missing.dfq"], cwd: dir)
    #expect(noFile.status == 1 && noFile.stderr.hasPrefix("cannot read 'missing.dfq'") && !noFile.stderr.contains("usage:"))
}

@Test func runOptionsParse() throws {
    let o = try CLI.parseRunOptions(["x.dfq", "--set", "a=1", "--set=b=x=y", "--fresh", "--quick", "--out", "o"])
    #expect(o.file == "x.dfq" && o.overrides == ["a": "1", "b": "x=y"] && o.fresh && o.quick && o.outDir == "o")
    #expect(throws: (any Error).self) { try CLI.parseRunOptions(["x.dfq", "--set", "novalue"]) }
    #expect(throws: (any Error).self) { try CLI.parseRunOptions(["x.dfq", "--bogus"]) }
}

@Test func replReadsPlainLinesFromAPipe() throws {
    let dir = tempDir("cli-pipe")
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("in.txt")
    try "let x = 2\nfn f(v) {\n  return v * 21\n}\nf(x)\nnope\n\"still here\"\n:vars\n:load lib.dfq\nlib_value\n:time f(1)\n:bogus\n:quit\nprint(\"after quit\")\n"
        .write(to: input, atomically: true, encoding: .utf8)
    try "let lib_value = 7\nprint(\"loaded\")\n".write(to: dir.appendingPathComponent("lib.dfq"), atomically: true, encoding: .utf8)
    let r = try Subprocess.run(try sardfqBinary().path, directory: dir.path, stdin: .file(input.path), timeout: 120)
    let o = String(decoding: r.stdout, as: UTF8.self), e = String(decoding: r.stderr, as: UTF8.self)
    #expect(r.status == 0 && !r.timedOut)
    let lines = o.split(separator: "\n").map(String.init)
    #expect(Array(lines.prefix(7)) == ["42", "\"still here\"", "f: function = fn f(v)", "x: number = 2", "loaded", "7", "21"])
    #expect(lines.count == 8 && lines[7].hasPrefix("time: ") && lines[7].hasSuffix(" s"))
    #expect(e.hasPrefix("<repl>:1:1: error: unknown name 'nope'"))
    #expect(e.contains("unknown command :bogus"))
    #expect(!o.contains("after quit"))
}
