import Foundation
import Tensor
import Plot

/// Where an output came from: recipe, parameters, seeds, git commit, date and timings. Saved as
/// `<file>.provenance.json` beside every output written through `Output.write`.
public enum Provenance {
    public static func record(for url: URL, context: RunContext, extra: [String: String] = [:]) -> [String: Any] {
        var params: [String: String] = [:]
        for (k, v) in context.parametersUsed { params[k] = v.display }
        var seeds: [String: UInt64] = [:]
        for (k, v) in context.seeds { seeds[k] = v }
        let fmt = ISO8601DateFormatter()
        var r: [String: Any] = [
            "file": url.lastPathComponent,
            "recipe": context.recipePath ?? "<repl>",
            "parameters": params,
            "overrides": context.overrides,
            "seeds": seeds,
            "quick": context.quick,
            "tool_version": Version.string,
            "date": fmt.string(from: Date()),
            "run_started": fmt.string(from: context.startDate),
            "elapsed_seconds": (ProcessInfo.processInfo.systemUptime - context.startTime).rounded(toPlaces: 3),
            "command": CommandLine.arguments.joined(separator: " "),
        ]
        if let g = gitCommit() { r["git_commit"] = g }
        if !extra.isEmpty { r["extra"] = extra }
        return r
    }

    /// The commit of the git work tree containing `dir` (read from `.git`, no `git` process).
    public static func gitCommit(from dir: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> String? {
        var d = dir.standardizedFileURL
        for _ in 0..<20 {
            var git = d.appendingPathComponent(".git")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: git.path, isDirectory: &isDir) {
                if !isDir.boolValue, let s = try? String(contentsOf: git, encoding: .utf8), s.hasPrefix("gitdir:") {
                    let p = s.dropFirst(7).trimmingCharacters(in: .whitespacesAndNewlines)
                    git = p.hasPrefix("/") ? URL(fileURLWithPath: p) : d.appendingPathComponent(p)
                }
                guard let head = try? String(contentsOf: git.appendingPathComponent("HEAD"), encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
                guard head.hasPrefix("ref: ") else { return head }
                let ref = String(head.dropFirst(5))
                if let c = try? String(contentsOf: git.appendingPathComponent(ref), encoding: .utf8) {
                    return c.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                // Worktrees keep refs in the common dir; packed refs list "sha ref".
                var dirs = [git]
                if let common = try? String(contentsOf: git.appendingPathComponent("commondir"), encoding: .utf8) {
                    dirs.append(git.appendingPathComponent(common.trimmingCharacters(in: .whitespacesAndNewlines)))
                }
                for g in dirs {
                    if let c = try? String(contentsOf: g.appendingPathComponent(ref), encoding: .utf8) {
                        return c.trimmingCharacters(in: .whitespacesAndNewlines)
                    }
                    if let packed = try? String(contentsOf: g.appendingPathComponent("packed-refs"), encoding: .utf8) {
                        for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
                            return String(line.prefix(40))
                        }
                    }
                }
                return nil
            }
            let parent = d.deletingLastPathComponent()
            if parent.path == d.path { break }
            d = parent
        }
        return nil
    }
}

extension Double {
    func rounded(toPlaces p: Int) -> Double {
        let m = Foundation.pow(10, Double(p))
        return (self * m).rounded() / m
    }
}

/// The one way builtins write result files: atomically, under `--out`, with a provenance sidecar.
public enum Output {
    /// Writes `data` to `path` (relative paths go under the run's output folder) and
    /// `<path>.provenance.json` beside it. Returns the final URL.
    @discardableResult
    public static func write(_ data: Data, to path: String, context: RunContext, extra: [String: String] = [:]) throws -> URL {
        let url = context.outputURL(path)
        try AtomicFile.write(data, to: url.path)
        try writeProvenance(for: url, context: context, extra: extra)
        return url
    }

    /// Creates the folder that will hold `url`, with a clear error (naming the path) when it cannot.
    public static func prepareDirectory(for url: URL) throws {
        do { try AtomicFile.ensureDirectory(for: url.path) } catch let e as PlotError { throw ScriptError("\(e)") }
    }

    /// Writes `<url>.provenance.json` for a file that was written some other way (e.g. by gnuplot).
    public static func writeProvenance(for url: URL, context: RunContext, extra: [String: String] = [:]) throws {
        context.wroteOutput?(url)
        let record = Provenance.record(for: url, context: context, extra: extra)
        let json = try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try AtomicFile.write(json + Data("\n".utf8), to: url.path + ".provenance.json")
    }
}
