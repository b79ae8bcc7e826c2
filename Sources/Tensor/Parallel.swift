import Dispatch
import Foundation
import CKernels

/// Threading policy for the whole engine.
///
/// Decision: our own loops split work over all cores with `concurrentPerform`; large GEMMs let
/// OpenBLAS use all cores; batches of small GEMMs (attention, per (batch × head)) run one GEMM
/// per worker with OpenBLAS at one thread. `bench gemm` measures both for every shape.
public enum Parallel {
    /// Number of workers (cores), overridable with SARDFQ_THREADS.
    public static let workers: Int = {
        if let s = ProcessInfo.processInfo.environment["SARDFQ_THREADS"], let n = Int(s), n > 0 { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Runs `body` over `0..<n` split into contiguous chunks, one per worker, when the work is
    /// big enough (`grain` items per chunk at least); otherwise inline.
    @inlinable public static func forRange(_ n: Int, grain: Int = 16384, _ body: (Range<Int>) -> Void) {
        let chunks = min(workers, max(1, n / max(grain, 1)))
        if chunks <= 1 { body(0..<n); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs `body(i)` for every `i` in `0..<n` across workers (for coarse items like one image
    /// or one attention head).
    @inlinable public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        if n <= 1 || workers == 1 { for i in 0..<n { body(i) }; return }
        let chunks = min(workers, n)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            for i in lo..<hi { body(i) }
        }
    }

    /// Runs `body` with OpenBLAS limited to one thread (for per-worker small GEMMs).
    public static func withSingleThreadedBLAS<T>(_ body: () throws -> T) rethrows -> T {
        let old = ck_blas_get_threads()
        ck_blas_set_threads(1)
        defer { ck_blas_set_threads(old) }
        return try body()
    }
}

/// Monotonic wall clock in seconds.
public func now() -> Double { ck_now() }
