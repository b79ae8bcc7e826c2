import Foundation
import Testing

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
    let p = Process()
    p.executableURL = try sardfqBinary()
    p.arguments = args
    p.currentDirectoryURL = cwd
    var environment = ProcessInfo.processInfo.environment
    environment["SARDFQ_CACHE"] = cwd.appendingPathComponent(".cache").path
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    final class Buf: @unchecked Sendable { var out = Data(); var err = Data() }
    let buf = Buf()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { buf.out = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { buf.err = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    if group.wait(timeout: .now() + timeout) == .timedOut {
        p.terminate()
        Issue.record("sardfq \(args.joined(separator: " ")) timed out")
    }
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: buf.out, as: UTF8.self),
                         stderr: String(decoding: buf.err, as: UTF8.self))
}
