import Foundation
import Plot

/// Settings of one recipe run or REPL session that builtins can read: `--set` parameters, the
/// `--quick` profile, the output folder, what goes into provenance sidecars, and the services
/// (cache, progress, provenance writer) the front end installs (RunServices.swift).
public final class RunContext {
    /// Values given with `--set name=value`, as text; `param(name, default)` types them.
    public var overrides: [String: String]
    /// Parameters actually read by `param`, with their final values (for provenance).
    public var parametersUsed: [(String, Value)] = []
    /// Seeds used by builtins (`label` → seed), recorded for provenance via `recordSeed`.
    public var seeds: [(String, UInt64)] = []
    /// `--quick`: the small profile the test suite runs (builtins shrink their work).
    public var quick: Bool
    /// `--fresh`: ignore the cache (still writes new entries).
    public var fresh: Bool
    /// Where relative output paths go (`--out`, default: current directory).
    public var outputDirectory: URL
    /// The recipe file, or nil in the REPL.
    public var recipePath: String?
    public let startDate = Date()
    public let startTime = ProcessInfo.processInfo.systemUptime
    /// Draws a picture where the user is looking (the REPL sets it: `show` then draws its images
    /// inline as well as writing the PNG); nil in `sardfq run`, whose outputs are files.
    public var display: ((TerminalPicture) -> Void)?
    /// Told of every output written through `Output` (the run's notebook and the Jupyter kernel
    /// show them where they were written).
    public var wroteOutput: ((URL) -> Void)?
    /// Where expensive results are kept (Runtime's on-disk `Cache`); nil computes every time.
    public var cache: ResultCache?
    /// Makes the report of long work (Runtime's `Progress`); nil reports nothing. Builtins call
    /// `progress(total:label:)`.
    public var makeProgress: ((_ total: Int, _ label: String) -> ProgressReport)?
    /// Writes provenance sidecars beside outputs (Runtime's `Provenance`); nil writes none.
    public var provenance: ProvenanceWriter?
    /// Where progress reports go instead of stderr: (the report, its line with a bar, whether it is
    /// the last). The Jupyter kernel shows each report as one updating output.
    public var progressLines: ((ObjectIdentifier, String, Bool) -> Void)?

    public init(overrides: [String: String] = [:], quick: Bool = false, fresh: Bool = false,
                outputDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                recipePath: String? = nil) {
        self.overrides = overrides
        self.quick = quick
        self.fresh = fresh
        self.outputDirectory = outputDirectory
        self.recipePath = recipePath
    }

    public func recordSeed(_ label: String, _ seed: UInt64) {
        if !seeds.contains(where: { $0.0 == label && $0.1 == seed }) { seeds.append((label, seed)) }
    }

    /// Resolves an output path: absolute paths stay, relative ones go under `outputDirectory`.
    public func outputURL(_ path: String) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : outputDirectory.appendingPathComponent(path)
    }
}
