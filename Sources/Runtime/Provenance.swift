import Foundation
import Plot
import Script

/// Where an output came from: recipe, parameters, seeds, git commit, date and timings. Saved as
/// `<file>.provenance.json` beside every output written through `Output.write`, in every run
/// context the front ends set up (`installRuntimeServices`).
public struct Provenance: ProvenanceWriter {
    public init() {}

    /// Writes `<url>.provenance.json`: the record, as sorted pretty-printed JSON.
    public func writeProvenance(for url: URL, context: RunContext, extra: [String: String]) throws {
        let record = Provenance.record(for: url, context: context, extra: extra)
        let json = try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try AtomicFile.write(json + Data("\n".utf8), to: url.path + ".provenance.json")
    }

    /// The sidecar's fields for the output `url` of the run `context`.
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
            "elapsed_seconds": ((ProcessInfo.processInfo.systemUptime - context.startTime) * 1000).rounded() / 1000,
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
