import Foundation

/// The services a run gives its builtins, as interfaces: Runtime installs the concrete ones (the
/// on-disk `Cache`, the terminal `Progress`, the JSON `Provenance` writer) into the `RunContext` of
/// every front end it starts (`sardfq run`, the REPL, the Jupyter kernel). An interpreter made
/// without them (a test, the fuzzer) computes every result, reports no progress and writes outputs
/// without sidecars.

/// Expensive results (synthetic sets, calibrated models, accuracies) stored by `CacheKey`.
public protocol ResultCache: AnyObject {
    /// The stored bytes for `key`, or nil.
    func lookup(key: CacheKey) -> Data?
    /// A payload `lookup` returned that its reader could not decode: counted as a miss.
    func reject(key: CacheKey, reason: String)
    /// Stores bytes for `key`.
    func store(key: CacheKey, data: Data) throws
}

/// One piece of long work (synthesis iterations, calibration, evaluation) reporting how far it is.
public protocol ProgressReport: AnyObject {
    /// `i` of the total steps are done, with the current loss terms.
    func update(_ i: Int, terms: [(String, Double)])
    /// The work is done or aborted (called once).
    func finish()
}

extension ProgressReport {
    public func update(_ i: Int) { update(i, terms: []) }
}

/// Writes the provenance sidecar (`<file>.provenance.json`) of an output file.
public protocol ProvenanceWriter {
    func writeProvenance(for url: URL, context: RunContext, extra: [String: String]) throws
}

/// The report of a run with no progress display: it shows nothing.
final class SilentProgress: ProgressReport {
    func update(_ i: Int, terms: [(String, Double)]) {}
    func finish() {}
}

extension RunContext {
    /// The progress report of `total` steps of work named `label` (silent when no display is installed).
    public func progress(total: Int, label: String) -> ProgressReport {
        makeProgress?(total, label) ?? SilentProgress()
    }
}
