import Foundation
import Testing
@testable import Script
@testable import Runtime

func tempDir(_ label: String) -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}

@Test func sha256KnownVectors() {
    #expect(ContentHash.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(ContentHash.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(ContentHash.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    // Feeding in pieces that straddle blocks gives the same digest as one piece.
    let text = String(repeating: "sardfq-", count: 50)
    var h = ContentHash()
    for chunk in stride(from: 0, to: text.utf8.count, by: 37) {
        let bytes = Array(text.utf8)[chunk..<min(chunk + 37, text.utf8.count)]
        bytes.withUnsafeBytes { h.update($0) }
    }
    #expect(h.finalize() == ContentHash.hex(text))
}

@Test func cacheStoresLooksUpAndHonoursFresh() throws {
    let dir = tempDir("cache")
    defer { try? FileManager.default.removeItem(at: dir) }
    let cache = Cache(directory: dir)
    let key = CacheKey(kind: "accuracy", ["weights:abc", "w=4", "seed=0"])
    #expect(key == CacheKey(kind: "accuracy", ["weights:abc", "w=4", "seed=0"]))
    #expect(key != CacheKey(kind: "accuracy", ["weights:abc", "w=4", "seed=1"]))
    // Parts are length-prefixed, so moving a boundary changes the key.
    #expect(CacheKey(kind: "k", ["ab", "c"]) != CacheKey(kind: "k", ["a", "bc"]))
    #expect(cache.lookup(key: key) == nil)
    var computed = 0
    let d1 = try cache.cached(key: key) { computed += 1; return Data("0.71".utf8) }
    let d2 = try cache.cached(key: key) { computed += 1; return Data("other".utf8) }
    #expect(d1 == d2 && computed == 1)
    #expect(cache.hits == 1)
    cache.ignoreExisting = true
    let d3 = try cache.cached(key: key) { computed += 1; return Data("0.72".utf8) }
    #expect(computed == 2 && String(decoding: d3, as: UTF8.self) == "0.72")
    cache.ignoreExisting = false
    #expect(cache.lookup(key: key) == Data("0.72".utf8), "--fresh still rewrites the entry")
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("accuracy").path)
    #expect(leftovers == [key.hex + ".bin"], "no temporary files left behind")
}

@Test func cacheRefusesEditedAndSwappedEntries() throws {
    let dir = tempDir("cache-verify")
    defer { try? FileManager.default.removeItem(at: dir) }
    let cache = Cache(directory: dir)
    cache.quiet = true
    let psaq = CacheKey(kind: "synthesize", ["method=psaq"]), sardfq = CacheKey(kind: "synthesize", ["method=sardfq"])
    try cache.store(key: psaq, data: Data("psaq images".utf8))
    try cache.store(key: sardfq, data: Data("sardfq images".utf8))
    #expect(cache.lookup(key: sardfq) == Data("sardfq images".utf8) && cache.warnings.isEmpty)
    // Edited pixels: one payload byte changed.
    let path = cache.url(sardfq).path
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    bytes[bytes.count - 1] ^= 1
    try bytes.write(to: URL(fileURLWithPath: path))
    #expect(cache.lookup(key: sardfq) == nil)
    #expect(cache.warnings.count == 1 && cache.warnings[0].contains(path))
    // A swapped entry: PSAQ-ViT's file under SARDFQ's name.
    try FileManager.default.removeItem(atPath: path)
    try FileManager.default.copyItem(atPath: cache.url(psaq).path, toPath: path)
    #expect(cache.lookup(key: sardfq) == nil && cache.warnings.count == 2)
    // A truncated entry and one without a header (an older format).
    try Data("sardfq-cache-v1 synthesize".utf8).write(to: URL(fileURLWithPath: path))
    #expect(cache.lookup(key: sardfq) == nil && cache.warnings.count == 3)
    try Data("sardfq images".utf8).write(to: URL(fileURLWithPath: path))
    #expect(cache.lookup(key: sardfq) == nil && cache.warnings.count == 4)
    // Recomputed through `cached`, the entry is whole again.
    var computed = 0
    #expect(try cache.cached(key: sardfq) { computed += 1; return Data("sardfq images".utf8) } == Data("sardfq images".utf8))
    #expect(computed == 1 && cache.lookup(key: sardfq) == Data("sardfq images".utf8) && cache.warnings.count == 5)  // the damaged one, once more
}

@Test func longLinesAndLongNamesStayCheap() throws {
    // An error on a 3 MB line shows a window around the column, not the line.
    let line = "print(" + String(repeating: "1 + ", count: 100_000) + "@)"
    let d = try #require(runScript(line).diagnostics.first)
    let shown = d.description
    #expect(shown.count < 600, "the excerpt is \(shown.count) characters")
    #expect(shown.contains("…") && shown.hasSuffix("^"))
    // No suggestion is looked for a name no typo could make, and the nesting limit is the documented one.
    #expect(suggestion(for: String(repeating: "x", count: 10_000), among: ["xxx", "print"]) == nil)
    #expect(suggestion(for: "prnt", among: ["print", "a_much_longer_name"]) == "print")
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let doc = try String(contentsOf: root.appendingPathComponent("docs/scripting.md"), encoding: .utf8)
    #expect(doc.contains("\(Parser.maxDepth) nested syntax levels"))
}

@Test func outputsAreAtomicWithProvenance() throws {
    let dir = tempDir("out")
    defer { try? FileManager.default.removeItem(at: dir) }
    let ctx = RunContext(overrides: ["iters": "5"], quick: true, outputDirectory: dir, recipePath: "recipes/x.dfq")
    ctx.installRuntimeServices()
    ctx.parametersUsed = [("iters", .number(5))]
    ctx.recordSeed("synthesize", 42)
    let url = try Output.write(Data("hello\n".utf8), to: "sub/result.md", context: ctx)
    #expect(url.path == dir.appendingPathComponent("sub/result.md").path)
    #expect(try String(contentsOf: url, encoding: .utf8) == "hello\n")
    let side = try Data(contentsOf: URL(fileURLWithPath: url.path + ".provenance.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: side) as? [String: Any])
    #expect(json["recipe"] as? String == "recipes/x.dfq")
    #expect((json["parameters"] as? [String: String])?["iters"] == "5")
    #expect((json["seeds"] as? [String: Any])?["synthesize"] as? Int == 42)
    #expect(json["quick"] as? Bool == true)
    #expect(json["date"] is String && json["elapsed_seconds"] is Double)
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("sub").path).sorted()
    #expect(files == ["result.md", "result.md.provenance.json"])
}

@Test func gitCommitIsReadFromTheWorkTree() {
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    if let c = Provenance.gitCommit(from: here) {
        #expect(c.count == 40 && c.allSatisfy(\.isHexDigit))
    }
    #expect(Provenance.gitCommit(from: URL(fileURLWithPath: "/")) == nil)
}

@Test func progressPlainLinesAndTerminalBar() {
    var lines: [String] = []
    var t = 0.0
    let p = Progress(total: 100, label: "synth", interval: 5, isTerminal: false, output: { lines.append($0) }, clock: { t })
    for i in 1...100 {
        t = Double(i) * 0.5
        p.update(i, terms: [("ce", 1.5)])
    }
    p.finish()
    // 50 s of work, at most one line per 5 s, plus the last one.
    #expect(lines.count == 10)
    #expect(lines[0] == "synth 10/100 ce=1.5  0:05<0:45\n")
    #expect(lines.last == "synth 100/100 ce=1.5  0:50\n")

    var screen: [String] = []
    var t2 = 0.0
    let bar = Progress(total: 4, label: "cal", isTerminal: true, output: { screen.append($0) }, clock: { t2 })
    t2 = 10
    bar.update(2)
    bar.finish()
    #expect(screen == ["\r\u{1B}[Kcal [############............] 2/4  0:10<0:10", "\n"])
    #expect(Progress.clockText(3725) == "1:02:05")
}

@Test func paramReadsTypedOverrides() {
    let r = runScript("print(param(\"iters\", 10) + 1, param(\"m\", \"a\"), param(\"on\", false), param(\"bits\", [4]))",
                      overrides: ["iters": "41", "m": "sardfq", "on": "yes", "bits": "[2, 3]"])
    #expect(r.error == nil)
    #expect(r.output == "42 sardfq true [2, 3]\n")
    let bad = runScript("param(\"iters\", 10)", overrides: ["iters": "many"])
    let d = bad.diagnostics.first
    #expect(d?.message == "--set iters=many: a number is expected (the default is 10)")
    #expect(d?.pos.line == 1 && d?.pos.col == 1)
}

@Test func interruptStopsALoopAndTheInterpreterStaysUsable() throws {
    let flag = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    flag.initialize(to: 0)
    defer { flag.deallocate() }
    var out = ""
    let interp = Interpreter { out += $0 }
    interp.interruptFlag = flag
    let done = DispatchSemaphore(value: 0)
    final class Holder: @unchecked Sendable { var error: Error? }
    let holder = Holder()
    let thread = Thread {
        do { try interp.run(source: "let n = 0\nwhile true {\n  n += 1\n}", name: "loop.dfq") } catch { holder.error = error }
        done.signal()
    }
    thread.start()
    Thread.sleep(forTimeInterval: 0.2)
    flag.pointee = 1
    #expect(done.wait(timeout: .now() + 10) == .success, "the loop stopped")
    let d = try #require(holder.error as? Diagnostic)
    #expect(d.message == "interrupted")
    #expect(d.pos.line == 2 || d.pos.line == 3)
    #expect(flag.pointee == 0, "the flag is consumed")
    try interp.run(source: "print(n > 0)", name: "after.dfq")
    #expect(out == "true\n")
}

@Test func budgetsStopRunawayPrograms() {
    let r = runScript("while true { }", steps: 1000)
    #expect(r.diagnostics.first?.message == "step budget of 1000 exceeded")
    let t0 = ProcessInfo.processInfo.systemUptime
    let r2 = runScript("let x = 0\nwhile true { x += 1 }", steps: Int.max, seconds: 0.3)
    #expect(r2.diagnostics.first?.message.hasPrefix("time budget") == true)
    #expect(ProcessInfo.processInfo.systemUptime - t0 < 60, "a 0.3 s time budget did not stop the loop")  // a hang check, not a speed target
}

@Test func completionOffersNamesMembersAndCommands() throws {
    let interp = Interpreter { _ in }
    try interp.run(source: "let weights = tensor([1, 2])\nlet cfg = {bits: 4, batch: 8}\nlet wide = 1", name: "c.dfq")
    #expect(Completion.candidates(line: "prin", interpreter: interp) == ["print"])
    #expect(Completion.candidates(line: "let y = wei", interpreter: interp) == ["weights"])
    #expect(Completion.candidates(line: "w", interpreter: interp).contains("while"))
    #expect(Completion.candidates(line: "weights.sha", interpreter: interp) == ["weights.shape"])
    #expect(Completion.candidates(line: "cfg.b", interpreter: interp) == ["cfg.batch", "cfg.bits"])
    #expect(Completion.candidates(line: "print(cross_e", interpreter: interp) == ["cross_entropy"])
    #expect(Completion.candidates(line: ":he", interpreter: interp) == ["help"])
    // Keyword arguments of the builtin being called come first.
    #expect(Completion.candidates(line: "randn([2], se", interpreter: interp) == ["seed:", "semantic_alignment"])
    #expect(Completion.candidates(line: "range(st", interpreter: interp) == ["start:", "step:", "stack", "str"])
    #expect(Completion.candidates(line: "print(\"(\", rou", interpreter: interp) == ["round"])
}

@Test func incompleteInputIsDetected() {
    #expect(Parser.isIncomplete("fn f(x) {"))
    #expect(Parser.isIncomplete("let xs = [1, 2,"))
    #expect(Parser.isIncomplete("let y = 1 +"))
    #expect(Parser.isIncomplete("if x {\n  print(1)\n} else {"))
    #expect(!Parser.isIncomplete("let y = 1"))
    #expect(!Parser.isIncomplete("let = 3"), "a real error is reported, not continued")
    #expect(!Parser.isIncomplete("print(\"open"), "strings do not span lines")
}

@Test func resolverFindsProblemsWithoutRunning() throws {
    let src = "fn f(a) { return a + b }\nlet x = f(1, 2)\nprint(lenn(x))\n"
    let problems = Resolver.check(try Parser.parse(SourceFile(name: "r.dfq", text: src)))
    #expect(problems.map(short) == [
        "1:22: unknown name 'b'",
        "2:14: too many arguments to 'f' (takes 1, got 2)",
        "3:7: unknown name 'lenn' (did you mean 'len'?)",
    ])
}

@Test func diagnosticsRenderWithCaret() throws {
    let r = runScript("let a = 1\nlet b = a + \"x\"", name: "d.dfq")
    let d = try #require(r.diagnostics.first)
    #expect(d.description == "d.dfq:2:11: error: cannot apply '+' to number and string (use interpolation: \"{x}…\")\n    let b = a + \"x\"\n              ^")
}
