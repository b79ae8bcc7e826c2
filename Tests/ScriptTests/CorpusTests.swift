import Foundation
import Testing
@testable import Script

/// The `.dfq` programs in Corpus/, each with its expected output (`# expect: text`) and expected
/// errors (`# error: line:col: message`, `# note: in 'f' called at line:col` for the call chain).
/// `# mode: check` runs the static resolver (`sardfq check`) instead of the interpreter.
func corpusFiles() -> [String] {
    guard let dir = Bundle.module.url(forResource: "Corpus", withExtension: nil),
          let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return [] }
    return names.filter { $0.hasSuffix(".dfq") }.sorted()
}

@Test func corpusIsPresent() {
    #expect(corpusFiles().count >= 15)
}

@Test(arguments: corpusFiles())
func corpus(_ name: String) throws {
    let url = try #require(Bundle.module.url(forResource: "Corpus", withExtension: nil)).appendingPathComponent(name)
    let source = try String(contentsOf: url, encoding: .utf8)
    let exp = Expectations(source)
    let result: RunResult
    if exp.checkOnly {
        do {
            let program = try Parser.parse(SourceFile(name: name, text: source))
            let problems = Resolver.check(program)
            result = RunResult(output: "", error: problems.isEmpty ? nil : DiagnosticList(problems))
        } catch {
            result = RunResult(output: "", error: error)
        }
    } else {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        result = runScript(source, name: name, outDir: tmp)
    }
    var got = result.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if got.last == "" { got.removeLast() }
    #expect(got == exp.output, "output of \(name)")

    let diags = result.diagnostics
    if result.error != nil && diags.isEmpty { Issue.record("\(name): error that is not a diagnostic: \(result.error!)") }
    #expect(diags.count == exp.errors.count, "\(name): errors \(diags.map(short)) vs expected \(exp.errors)")
    for (d, e) in zip(diags, exp.errors) {
        #expect(matches(d, e), "\(name): got '\(short(d))', expected '\(e)'")
        #expect(d.pos.file?.name == name)
        // The rendered form shows the header, the source line and a caret under the column.
        let lines = d.description.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0].hasPrefix("\(name):\(d.pos.line):\(d.pos.col): error: "))
        if lines.count >= 3 {
            #expect(lines[2].trimmingCharacters(in: .whitespaces) == "^")
            #expect(lines[2].count == 4 + d.pos.col)
        }
    }
    let chain = diags.first?.callChain.map { "in '\($0.function)' called at \($0.callSite.line):\($0.callSite.col)" + ($0.repeats > 1 ? " (\($0.repeats) times)" : "") } ?? []
    #expect(chain == exp.notes, "\(name): call chain")
}
