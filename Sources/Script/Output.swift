import Foundation
import Tensor
import Plot

extension Double {
    func rounded(toPlaces p: Int) -> Double {
        let m = Foundation.pow(10, Double(p))
        return (self * m).rounded() / m
    }
}

/// The one way builtins write result files: atomically, under `--out`, with a provenance sidecar
/// (written by the context's `ProvenanceWriter`).
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

    /// Writes `<url>.provenance.json` for a file that was written some other way (e.g. by gnuplot),
    /// through the context's provenance writer (none installed: no sidecar).
    public static func writeProvenance(for url: URL, context: RunContext, extra: [String: String] = [:]) throws {
        context.wroteOutput?(url)
        try context.provenance?.writeProvenance(for: url, context: context, extra: extra)
    }
}
