import Foundation
import Testing
@testable import Script
import Runtime

/// Runs `body` on a thread with a large stack: deeply nested (fuzzed) programs recurse in the
/// parser and interpreter, and test-runner threads may have small stacks.
final class StackBox<T>: @unchecked Sendable {
    var value: T?
    let done = DispatchSemaphore(value: 0)
}

func onBigStack<T>(_ body: @escaping () -> T) -> T {
    let box = StackBox<T>()
    let thread = Thread {
        box.value = body()
        box.done.signal()
    }
    thread.stackSize = 64 << 20
    thread.start()
    box.done.wait()
    return box.value!
}

/// The result of running a program: what it printed and the error it stopped with, if any.
struct RunResult {
    var output: String
    var error: Error?
    var diagnostics: [Diagnostic] {
        switch error {
        case let d as Diagnostic: return [d]
        case let l as DiagnosticList: return l.items
        default: return []
        }
    }
}

/// Builtins that cache results must not write `.sardfq-cache/` into the source tree during tests.
let isolatedCache: Void = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sardfq-test-cache-\(getpid())")
    Cache.shared = Cache(directory: dir)
}()

/// Parses and runs `source` in a fresh interpreter with a step/time budget, capturing `print`.
func runScript(_ source: String, name: String = "test.dfq", outDir: URL? = nil,
               overrides: [String: String] = [:], steps: Int = 2_000_000, seconds: Double = 20) -> RunResult {
    _ = isolatedCache
    return onBigStack {
        var out = ""
        let ctx = RunContext(overrides: overrides,
                             outputDirectory: outDir ?? FileManager.default.temporaryDirectory)
        ctx.installRuntimeServices()
        let interp = Interpreter(context: ctx) { out += $0 }
        interp.stepBudget = steps
        interp.timeBudget = seconds
        do {
            try interp.run(source: source, name: name)
            return RunResult(output: out, error: nil)
        } catch {
            return RunResult(output: out, error: error)
        }
    }
}

/// Lines after `# expect: ` in order (the expected output), and `# error: L:C: message` lines.
struct Expectations {
    var output: [String] = []
    var errors: [String] = []
    var notes: [String] = []
    var checkOnly = false

    init(_ source: String) {
        for raw in SourceFile(name: "", text: source).lines {  // (line ends normalized as the lexer sees them)
            let line = raw.drop { $0 == " " }
            if line.hasPrefix("# expect: ") { output.append(String(line.dropFirst("# expect: ".count))) }
            else if line == "# expect:" { output.append("") }
            else if line.hasPrefix("# error: ") { errors.append(String(line.dropFirst("# error: ".count))) }
            else if line.hasPrefix("# note: ") { notes.append(String(line.dropFirst("# note: ".count))) }
            else if line.hasPrefix("# mode: check") { checkOnly = true }
        }
    }
}

/// `L:C: message` for a diagnostic, the form `# error:` lines use.
func short(_ d: Diagnostic) -> String { "\(d.pos.line):\(d.pos.col): \(d.message)" }

/// Whether `actual` matches an `# error:` expectation: same position, message containing the text.
func matches(_ d: Diagnostic, _ expected: String) -> Bool {
    let parts = expected.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
    guard parts.count == 3, let l = Int(parts[0]), let c = Int(parts[1]) else { return false }
    let msg = parts[2].trimmingCharacters(in: .whitespaces)
    return d.pos.line == l && d.pos.col == c && d.message.contains(msg)
}
