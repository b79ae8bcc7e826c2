import Foundation
import Testing
import Plot

/// Drives the real REPL through a pseudo-terminal with util-linux `script`, so GNU readline,
/// Tab completion, the continuation prompt and Ctrl-C (a real SIGINT from the terminal) are tested.
final class PTYSession: @unchecked Sendable {
    let process: Subprocess
    private var buffer = Data()
    private let lock = NSLock()

    init(binary: URL, home: URL) throws {
        var env = ProcessInfo.processInfo.environment
        env["TERM"] = "dumb"
        env["HOME"] = home.path
        env["SARDFQ_HISTORY"] = home.appendingPathComponent("history").path
        env["INPUTRC"] = "/dev/null"
        // Started with SIGINT blocked, as test runners start their children: Ctrl-C must still be
        // taken on the REPL's waiting main thread (CLI.start(commandThread:)), never on one inside a GEMM.
        process = try Subprocess("/usr/bin/script", ["-qfec", "'\(binary.path)'", "/dev/null"], directory: home.path,
                                 environment: env, blockedSignals: [SIGINT], stdin: .pipe, stdout: .pipe, stderr: .output)
        let fd = process.outputFD!
        // Reads the terminal until it closes (the session ended).
        Thread.detachNewThread { [self] in
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fd, &chunk, chunk.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                self.lock.lock(); self.buffer.append(contentsOf: chunk[0..<n]); self.lock.unlock()
            }
        }
    }

    var text: String {
        lock.lock(); defer { lock.unlock() }
        // Terminal lines end in "\r\n"; drop the "\r" so needles can use "\n".
        return String(decoding: buffer, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
    }

    /// Where the next `waitFor` starts looking (so earlier matches do not count).
    var mark: Int { text.count }

    func send(_ s: String) { process.write(Data(s.utf8)) }

    /// Waits until `needle` appears after position `from`; records an issue on timeout.
    @discardableResult
    func waitFor(_ needle: String, from: Int, timeout: Double = 15, _ what: String) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let t = text
            if t.count > from, t[t.index(t.startIndex, offsetBy: from)...].contains(needle) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        Issue.record("timed out waiting for \(what) (\(needle.debugDescription)); terminal so far:\n\(text)")
        return false
    }

    func close() {
        if process.isRunning { process.send(SIGTERM) }
        if (try? process.wait(timeout: 10)) == nil { process.send(SIGKILL); _ = try? process.wait() }
    }
}

// Generous: the suite runs in parallel, and on a shared 2-core machine this took 111 s once.
@Test(.timeLimit(.minutes(5)))
func replOnATerminal() throws {
    #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux 'script' is needed for the PTY test")
    let home = tempDir("repl-pty")
    defer { try? FileManager.default.removeItem(at: home) }
    let s = try PTYSession(binary: try sardfqBinary(), home: home)
    defer { s.close() }
    s.waitFor("dfq> ", from: 0, "the first prompt")

    // Tab completion of a variable, a record member and a builtin.
    var m = s.mark
    s.send("let alpha_value = 41\r")
    s.waitFor("dfq> ", from: m + 5, "prompt after let")
    m = s.mark
    s.send("alpha_v\t")
    s.waitFor("alpha_value", from: m, "variable completion")
    s.send("+ 1\r")
    s.waitFor("\n42\n", from: m, "value of alpha_value + 1")
    m = s.mark
    s.send("let rec = {field_one: 7}\r")
    s.waitFor("dfq> ", from: m + 5, "prompt after record")
    m = s.mark
    s.send("rec.fie\t\r")
    s.waitFor("\n7\n", from: m, "member completion evaluates rec.field_one")
    m = s.mark
    s.send("type(cross_ent\t)\r")
    s.waitFor("\n\"function\"\n", from: m, "builtin completion")

    // A multi-line function with the continuation prompt.
    m = s.mark
    s.send("fn triple(x) {\r")
    s.waitFor("...> ", from: m, "continuation prompt")
    s.send("  return x * 3\r")
    s.send("}\r")
    s.send("triple(5)\r")
    s.waitFor("\n15\n", from: m, "result of the multi-line function")

    // An error leaves the session usable.
    m = s.mark
    s.send("undefined_var + 1\r")
    s.waitFor("unknown name 'undefined_var'", from: m, "the error")
    s.waitFor("^", from: m, "the caret")
    s.send("print(\"still alive\")\r")
    s.waitFor("\nstill alive\n", from: m, "output after the error")

    // Ctrl-C stops a long loop, keeps variables, and the prompt returns.
    m = s.mark
    s.send("let n = 0\r")
    s.send("print(\"looping\"); while true { n += 1 }\r")
    s.waitFor("\nlooping\n", from: m, "the loop to start")
    Thread.sleep(forTimeInterval: 0.2)
    s.send("\u{03}")
    s.waitFor("interrupted", from: m, "the interrupt message")
    let m2 = s.mark
    s.send("n > 0\r")
    s.waitFor("\ntrue\n", from: m2, "session alive after Ctrl-C")

    // Ctrl-C while editing drops the line.
    m = s.mark
    s.send("this is not code")
    s.waitFor("this is not code", from: m, "the typed text")
    let m3 = s.mark
    s.send("\u{03}")
    s.waitFor("dfq> ", from: m3, "a new prompt after Ctrl-C")
    s.send("6 * 7\r")
    s.waitFor("\n42\n", from: m, "a fresh line after Ctrl-C")
    #expect(!s.text.contains("unknown name 'this'"))

    // Keys typed right after Ctrl-C belong to the next line (none is lost to the cancelled one).
    m = s.mark
    s.send("junk")
    s.waitFor("junk", from: m, "the typed junk")
    s.send("\u{03}"); Thread.sleep(forTimeInterval: 0.3); s.send("8 * 8\r")
    s.waitFor("\n64\n", from: m, "the line typed right after Ctrl-C")
    #expect(!s.text.contains("unknown name 'junk"))

    // Ctrl-C stops the long operations inside the engine too: a large matmul (about 1 TFLOP),
    // t-SNE and block reconstruction; each would run for minutes, and the session stays usable.
    s.send("let big = ones([8192, 8192])\r")
    for (command, what) in [("print(\"start\"); let p = big @ big", "matmul"),
                            ("print(\"start\"); tsne(randn([1500, 8], seed: 1), iters: 100000)", "tsne"),
                            ("print(\"start\"); quantize(model(\"vit-t\", weights: \"random\"), w: 4, a: 4, calib: \"noise\", images: 16, reconstruct: true, iters: 100000)", "reconstruction")] {
        m = s.mark
        s.send(command + "\r")
        s.waitFor("\nstart\n", from: m, "the \(what) to start")
        Thread.sleep(forTimeInterval: 0.5)
        s.send("\u{03}")
        s.waitFor("interrupted", from: m, timeout: 20, "\(what) to stop on Ctrl-C")
        let after = s.mark
        s.send("1 + 1\r")
        s.waitFor("\n2\n", from: after, "the session after interrupting \(what)")
    }

    s.send(":quit\r")
    let deadline = Date().addingTimeInterval(10)
    while s.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    #expect(!s.process.isRunning, ":quit ends the session")
    let history = (try? String(contentsOf: home.appendingPathComponent("history"), encoding: .utf8)) ?? ""
    #expect(history.contains("triple(5)"), "history is saved")
}
