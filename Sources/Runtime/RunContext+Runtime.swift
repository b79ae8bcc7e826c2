import Foundation
import Script

extension RunContext {
    /// Installs Runtime's services into this context, as every front end (`sardfq run`, the REPL,
    /// the Jupyter kernel) does for the interpreter it runs: `cache` (the shared on-disk one by
    /// default), the progress display (a bar on a terminal, plain lines otherwise, or
    /// `progressLines` when a front end sets them) and the provenance sidecars. `summary` receives
    /// the plain last line of every finished progress report (the run's notebook).
    public func installRuntimeServices(cache: Cache = .shared, summary: ((String) -> Void)? = nil) {
        self.cache = cache
        provenance = Provenance()
        // Weak: the context owns this closure.
        makeProgress = { [weak self] total, label in
            Progress(total: total, label: label, reporter: self?.progressLines, summary: summary)
        }
    }
}
