import Foundation
import CKernels

/// Threading policy for the whole engine.
///
/// Decision: our own loops split work over all cores on a persistent worker pool (`ck_pool_run`,
/// CKernels/pool.c), and so do GEMMs: a large GEMM is cut into one block of rows (or columns)
/// per worker, batches of small GEMMs (attention, per (batch × head)) run one GEMM per worker,
/// and every GEMM call runs on one thread (oneDNN's sgemm by default, OpenBLAS set to one
/// thread as the fallback). Why: OpenBLAS's own worker threads spin in `sched_yield` for up to
/// ~0.1 s after every call, and between GEMMs (while our elementwise loops run) that spinning
/// took a third of the CPU time of a ViT forward+backward on two shared cores. Why our own pool
/// and not `DispatchQueue.concurrentPerform`: through it a two-way GEMM split ran at two cores'
/// rate in some runs and little over one core's in others (see pool.c). `bench gemm` checks the
/// engine's rates against OpenBLAS threading itself on the same shapes, in the same run.
public enum Parallel {
    /// Number of workers (cores), overridable with SARDFQ_THREADS.
    public static let workers: Int = {
        let n: Int
        if let s = ProcessInfo.processInfo.environment["SARDFQ_THREADS"], let v = Int(s), v > 0 { n = v }
        else { n = max(1, ProcessInfo.processInfo.activeProcessorCount) }
        ck_pool_init(Int32(n))
        return n
    }()

    /// Runs `body` over `0..<n` split into contiguous chunks, one per worker, when the work is
    /// big enough (`grain` items per chunk at least); otherwise inline.
    @inlinable public static func forRange(_ n: Int, grain: Int = 16384, _ body: (Range<Int>) -> Void) {
        let chunks = min(workers, max(1, n / max(grain, 1)))
        if chunks <= 1 { body(0..<n); return }
        run(chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs `body` over `0..<n` in blocks of `block` items that the workers claim one at a time,
    /// so that a worker slowed down (another process on its core) takes fewer of them: for steps
    /// a caller would take in blocks anyway. Each call gets one block (all of `0..<n` inline).
    @inlinable public static func forBlocks(_ n: Int, block: Int, _ body: (Range<Int>) -> Void) {
        let block = max(block, 1), blocks = (n + block - 1) / block
        if blocks <= 1 || workers == 1 { if n > 0 { body(0..<n) }; return }
        run(blocks) { c in body(c * block..<min(n, (c + 1) * block)) }
    }

    /// Runs `body(i)` for every `i` in `0..<n` across workers (for coarse items like one image
    /// or one attention head).
    @inlinable public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        if n <= 1 || workers == 1 { for i in 0..<n { body(i) }; return }
        let chunks = min(workers, n)
        run(chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            for i in lo..<hi { body(i) }
        }
    }

    /// Calls `body(c)` for `c` in `0..<chunks` on the worker pool (the caller takes part) and
    /// returns when every call has returned.
    @usableFromInline static func run(_ chunks: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafeMutablePointer(to: &job) { ctx in
                ck_pool_run(chunks, { ctx, c in
                    ctx!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(c)
                }, ctx)
            }
        }
    }

    /// Switches OpenBLAS to one thread (once; the engine's GEMMs call it before running) and
    /// picks the GEMM library: oneDNN, or OpenBLAS with SARDFQ_GEMM=openblas.
    public static func useSingleThreadedBLAS() { _ = blasSingleThreaded }
    private static let blasSingleThreaded: Bool = {
        ck_blas_set_threads(1)
        if ProcessInfo.processInfo.environment["SARDFQ_GEMM"] == "openblas" { ck_set_gemm_backend(0) }
        return true
    }()

    /// Whether the engine's GEMMs run on oneDNN (else OpenBLAS).
    public static var gemmLibrary: String {
        get { useSingleThreadedBLAS(); return ck_get_gemm_backend() != 0 ? "oneDNN" : "OpenBLAS" }
    }

    /// Runs `body` with the engine's GEMMs on the given library ("oneDNN" or "OpenBLAS").
    public static func withGemmLibrary<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        useSingleThreadedBLAS()
        let old = ck_get_gemm_backend()
        ck_set_gemm_backend(name == "OpenBLAS" ? 0 : 1)
        defer { ck_set_gemm_backend(old) }
        return try body()
    }
}

/// Monotonic wall clock in seconds.
public func now() -> Double { ck_now() }
