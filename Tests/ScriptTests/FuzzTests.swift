import Foundation
import Testing
import Tensor
@testable import Script

/// Feeds thousands of random and mutated programs to the parser and interpreter. Every one must
/// finish quickly (step and time budgets) and every failure must be a positioned diagnostic;
/// a crash or hang fails the whole run.
struct ProgramGenerator {
    var rng: RNG
    let names = ["x", "y", "xs", "t", "f", "r", "s", "i"]
    let builtins = ["print", "len", "range", "sum", "mean", "max", "min", "tensor", "zeros", "ones", "relu",
                    "reshape", "transpose", "matmul", "softmax", "map", "filter", "sort", "str", "num", "int",
                    "round", "keys", "append", "join", "split", "type", "cross_entropy", "table", "item",
                    "backward", "argmax", "concat", "stack", "randn", "exp", "log", "sqrt", "abs", "clamp"]
    let ops = ["+", "-", "*", "/", "%", "@", "==", "!=", "<", "<=", ">", ">=", "and", "or", "in", "|>"]

    mutating func pick<T>(_ xs: [T]) -> T { xs[rng.int(xs.count)] }

    mutating func expr(_ depth: Int) -> String {
        if depth <= 0 || rng.bool(0.3) {
            switch rng.int(7) {
            case 0: return String(rng.int(5) - 1)
            case 1: return pick(["0.5", "2.5", "1e-3", "-3"])
            case 2: return pick(["\"a\"", "\"w{1 + 1}\"", "\"\"", "\"{x}\""])
            case 3: return pick(["true", "false", "none"])
            default: return pick(names)
            }
        }
        switch rng.int(9) {
        case 0, 1: return "\(expr(depth - 1)) \(pick(ops)) \(expr(depth - 1))"
        case 2: return "[" + (0..<rng.int(4)).map { _ in expr(depth - 1) }.joined(separator: ", ") + "]"
        case 3: return "{a: \(expr(depth - 1)), b: \(expr(depth - 1))}"
        case 4: return "\(pick(names))[\(expr(depth - 1))]"
        case 5: return "\(pick(names)).\(pick(["shape", "grad", "a", "sum", "len", "T", "nope"]))"
        case 6: return "-\(expr(depth - 1))"
        case 7: return "fn(v) { return \(expr(depth - 1)) }"
        default:
            let args = (0..<rng.int(4)).map { _ in rng.bool(0.3) ? "\(pick(["axis", "seed", "digits", "key", "k"])): \(expr(depth - 1))" : expr(depth - 1) }
            return "\(pick(builtins))(" + args.joined(separator: ", ") + ")"
        }
    }

    mutating func stmt(_ depth: Int) -> String {
        switch rng.int(depth <= 0 ? 3 : 9) {
        case 0: return "let \(pick(names)) = \(expr(2))"
        case 1: return "\(pick(names)) = \(expr(2))"
        case 2: return expr(3)
        case 3: return "if \(expr(1)) { \(stmt(depth - 1)) } else { \(stmt(depth - 1)) }"
        case 4: return "for \(pick(names)) in \(pick(["range(3)", "xs", "[1, 2]", "\"ab\"", "t", "5"])) { \(stmt(depth - 1)) }"
        case 5: return "while \(expr(1)) { \(stmt(depth - 1)) }"
        case 6: return "fn f(a, b: 1) { \(stmt(depth - 1))\n return \(expr(2)) }"
        case 7: return pick(["\(pick(names)) += \(expr(1))", "xs.append(xs)", "r.self = r", "print(xs == [1, xs])"])
        default: return "print(\(expr(2)))"
        }
    }

    mutating func program() -> String {
        let prelude = "let x = 1\nlet y = 2\nlet xs = [1, 2, 3]\nlet t = tensor([[1, 2], [3, 4]], requires_grad: true)\nlet s = \"str\"\nlet r = {a: 1}\nlet i = 0\n"
        return prelude + (0..<(1 + rng.int(6))).map { _ in stmt(2) }.joined(separator: "\n")
    }

    /// Token- and character-level damage: deletions, duplications, swaps, stray symbols.
    mutating func mutate(_ src: String) -> String {
        var chars = Array(src)
        let noise: [String] = ["(", ")", "[", "]", "{", "}", "\"", ",", ":", ".", "|>", "=", "\n", "fn", "let ", "if ", " else ", "for ", " in ", "return ", "#", "'", "\\", "@", "-", "{x}"]
        for _ in 0..<(1 + rng.int(4)) {
            guard !chars.isEmpty else { break }
            let at = rng.int(chars.count)
            switch rng.int(4) {
            case 0: chars.removeSubrange(at..<min(chars.count, at + 1 + rng.int(6)))
            case 1: chars.insert(contentsOf: Array(pick(noise)), at: at)
            case 2:
                let len = min(chars.count - at, 1 + rng.int(12))
                chars.insert(contentsOf: chars[at..<(at + len)], at: at)
            default:
                let b = rng.int(chars.count)
                chars.swapAt(at, b)
            }
        }
        // Keep numbers small: fuzzing is about structure, not about allocating huge tensors.
        return String(chars).replacingOccurrences(of: "[0-9]{3,}", with: "7", options: .regularExpression)
    }
}

// The limits below catch hangs, not slowness: the machines are shared (speed is `sardfq bench frontend`).
@Test(.timeLimit(.minutes(10)))
func fuzzParserAndInterpreter() throws {
    let corpusDir = try #require(Bundle.module.url(forResource: "Corpus", withExtension: nil))
    let seeds = try FileManager.default.contentsOfDirectory(atPath: corpusDir.path).filter { $0.hasSuffix(".dfq") }.sorted()
        .map { try String(contentsOf: corpusDir.appendingPathComponent($0), encoding: .utf8) }
    let outDir = tempDir("fuzz")
    defer { try? FileManager.default.removeItem(at: outDir) }
    let failures: [String] = onBigStack {
        var gen = ProgramGenerator(rng: RNG(seed: 2024))
        var failures: [String] = []
        var diagnostics = 0
        for k in 0..<6000 {
            let src: String
            switch k % 3 {
            case 0: src = gen.program()
            case 1: src = gen.mutate(seeds[k % seeds.count])
            default: src = gen.mutate(gen.program())
            }
            let t0 = ProcessInfo.processInfo.systemUptime
            let ctx = RunContext(outputDirectory: outDir)
            let interp = Interpreter(context: ctx) { _ in }
            interp.stepBudget = 20_000
            interp.timeBudget = 2
            let flag = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
            flag.initialize(to: 0)
            interp.interruptFlag = flag
            defer { flag.deallocate() }
            do {
                let program = try Parser.parse(SourceFile(name: "fuzz\(k).dfq", text: src))
                _ = Resolver.check(program)
                try interp.run(program)
            } catch let d as Diagnostic {
                diagnostics += 1
                if d.pos.line < 1 || d.pos.col < 1 || d.message.isEmpty { failures.append("bad position \(d.header) for:\n\(src)") }
                _ = d.description
            } catch let l as DiagnosticList {
                diagnostics += 1
                if l.items.isEmpty || l.items.count > Parser.maxErrors + 1 { failures.append("\(l.items.count) diagnostics for:\n\(src)") }
                for d in l.items where d.pos.line < 1 || d.pos.col < 1 { failures.append("bad position \(d.header) for:\n\(src)") }
                _ = l.description
            } catch {
                failures.append("not a diagnostic: \(error) for:\n\(src)")
            }
            if ProcessInfo.processInfo.systemUptime - t0 > 30 { failures.append("hung (over 30 s with a 2 s budget):\n\(src)") }
            if failures.count > 5 { break }
        }
        if diagnostics < 600 { failures.append("only \(diagnostics) of 6000 programs failed: the fuzzer is too tame") }
        return failures
    }
    #expect(failures.isEmpty, "\(failures.prefix(3).joined(separator: "\n----\n"))")
}

/// Deep nesting is rejected with a diagnostic instead of overflowing the stack.
@Test func deepNestingIsADiagnostic() {
    let deep = String(repeating: "(", count: 2000) + "1" + String(repeating: ")", count: 2000)
    let r = runScript(deep)
    #expect(r.diagnostics.first?.message.contains("nested too deeply") == true)
    let deepList = "let x = " + String(repeating: "[", count: 3000)
    #expect(runScript(deepList).diagnostics.isEmpty == false)
    let negs = "print(" + String(repeating: "-", count: 2000) + "1)"
    #expect(runScript(negs).diagnostics.first?.message.contains("nested too deeply") == true)
    // Left-associative chains build trees as deep as they are long.
    let sum = "let s = 1" + String(repeating: " + 1", count: 2000)
    #expect(runScript(sum).diagnostics.first?.message.contains("nested too deeply") == true)
    let members = "let r = {a: 1}\nr" + String(repeating: ".a", count: 4000)
    #expect(runScript(members).diagnostics.first?.message.contains("nested too deeply") == true)
    let calls = "print" + String(repeating: "()", count: 4000)
    #expect(runScript(calls).diagnostics.first?.message.contains("nested too deeply") == true)
    // Long but legal chains still work.
    #expect(runScript("print(1" + String(repeating: " + 1", count: 150) + ")").output == "151\n")
}

/// A list that contains itself prints and compares without recursing forever.
@Test func cyclicValuesAreSafe() {
    let r = runScript("let xs = [1]\nxs.append(xs)\nprint(len(str(xs)) > 10, xs == xs)\nlet ys = [1]\nys.append(ys)\nprint(xs == ys)")
    #expect(r.error == nil)
    // xs = [1, xs] and ys = [1, ys] have the same structure at every depth: equal.
    #expect(r.output == "true true\ntrue\n")
    #expect(runScript("let a = [1]\na.append(a)\nlet b = [2]\nb.append(b)\nprint(a == b)").output == "false\n")
}
