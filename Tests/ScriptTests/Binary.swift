import Foundation
import Testing
import Plot

/// The built `sardfq` executable: `$SARDFQ_BIN`, or the one next to this test bundle
/// (`swift test` builds every product into the same folder).
func sardfqBinary() throws -> URL {
    if let p = ProcessInfo.processInfo.environment["SARDFQ_BIN"], !p.isEmpty { return URL(fileURLWithPath: p) }
    var candidates: [URL] = []
    let bundleDir = Bundle.module.bundleURL.deletingLastPathComponent()
    candidates.append(bundleDir.appendingPathComponent("sardfq"))
    // On Linux the xctest binary sits in the same products folder.
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sardfq"))
    for c in candidates where FileManager.default.isExecutableFile(atPath: c.path) { return c }
    struct Missing: Error, CustomStringConvertible {
        let looked: [String]
        var description: String { "sardfq binary not found (looked at \(looked.joined(separator: ", "))); run `swift build` first or set SARDFQ_BIN" }
    }
    throw Missing(looked: candidates.map(\.path))
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the binary with arguments in `cwd`, with a timeout.
func runSardfq(_ args: [String], cwd: URL, env: [String: String] = [:], timeout: Double = 60) throws -> ProcessResult {
    var environment = ProcessInfo.processInfo.environment
    environment["SARDFQ_CACHE"] = cwd.appendingPathComponent(".cache").path
    for (k, v) in env { environment[k] = v }
    let r = try Subprocess.run(try sardfqBinary().path, args, directory: cwd.path, environment: environment, timeout: timeout)
    if r.timedOut { Issue.record("sardfq \(args.joined(separator: " ")) timed out") }
    return ProcessResult(status: r.status, stdout: String(decoding: r.stdout, as: UTF8.self),
                         stderr: String(decoding: r.stderr, as: UTF8.self))
}
