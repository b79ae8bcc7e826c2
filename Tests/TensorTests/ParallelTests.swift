import Foundation
import Testing
import CKernels
@testable import Tensor

/// The worker pool behind `Parallel` (CKernels/pool.c): every item runs exactly once, nested
/// loops and concurrent callers run inline instead of deadlocking, and a split GEMM equals the
/// single call.
@Suite("worker pool")
struct ParallelTests {
    /// Counts how often each index ran; atomics would be tidier, but a per-index slot written by
    /// exactly one chunk is what the engine's loops rely on too.
    @Test func everyItemRunsOnce() {
        for n in [0, 1, 2, 3, 17, 1000] {
            var hits = [Int](repeating: 0, count: n)
            hits.withUnsafeMutableBufferPointer { h in
                let p = h.baseAddress
                Parallel.forEach(n) { i in p![i] += 1 }
            }
            #expect(hits == [Int](repeating: 1, count: n), "n = \(n)")
        }
        var cover = [Int](repeating: 0, count: 100_000)
        cover.withUnsafeMutableBufferPointer { h in
            let p = h.baseAddress!
            Parallel.forRange(100_000, grain: 1000) { r in for i in r { p[i] += 1 } }
        }
        #expect(cover.allSatisfy { $0 == 1 })
    }

    /// Blocks claimed one at a time: every index once, each call one block of at most `block`
    /// items starting on a multiple of it (the integer MLP's hidden rows are sized to it).
    @Test(arguments: [(0, 4), (3, 4), (4, 4), (5, 4), (1000, 7), (1000, 1000), (999, 1)])
    func blocksCoverEachIndexOnce(n: Int, block: Int) {
        var hits = [Int](repeating: 0, count: n), bad = [Int](repeating: 0, count: max(n, 1))
        hits.withUnsafeMutableBufferPointer { h in
            bad.withUnsafeMutableBufferPointer { b in
                let (p, q) = (h.baseAddress, b.baseAddress!)
                Parallel.forBlocks(n, block: block) { r in
                    if r.count > block || r.lowerBound % block != 0 { q[r.lowerBound] = 1 }
                    for i in r { p![i] += 1 }
                }
            }
        }
        #expect(hits == [Int](repeating: 1, count: n), "n = \(n), block = \(block)")
        #expect(!bad.contains(1), "n = \(n), block = \(block): a call got more than a block, or one off its grid")
    }

    @Test func nestedLoopsRunInline() {
        var hits = [Int](repeating: 0, count: 64)
        hits.withUnsafeMutableBufferPointer { h in
            let p = h.baseAddress!
            Parallel.forEach(8) { i in
                Parallel.forEach(8) { j in p[i * 8 + j] += 1 }
            }
        }
        #expect(hits.allSatisfy { $0 == 1 })
    }

    /// Many threads using the pool at once: one holds it, the others run their loops inline.
    @Test func concurrentCallers() {
        let callers = 8, n = 5000
        var sums = [Int](repeating: 0, count: callers)
        sums.withUnsafeMutableBufferPointer { s in
            let out = s.baseAddress!
            DispatchQueue.concurrentPerform(iterations: callers) { c in
                for _ in 0..<50 {
                    var part = [Int](repeating: 0, count: n)
                    part.withUnsafeMutableBufferPointer { pp in
                        let p = pp.baseAddress!
                        Parallel.forEach(n) { i in p[i] = i }
                    }
                    out[c] += part.reduce(0, +)
                }
            }
        }
        #expect(sums == [Int](repeating: 50 * n * (n - 1) / 2, count: callers))
    }

    @Test func splitGemmMatchesOneCall() throws {
        var rng = RNG(seed: 7)
        let a = Tensor.normal([517, 96], rng: &rng), b = Tensor.normal([96, 300], rng: &rng)
        let split = try Tensor.matmul(a, b)  // (517·96·300 multiply-adds) > gemmSplitAbove: split
        let whole = Tensor(uninitialized: [517, 300])
        ck_sgemm(0, 0, 517, 300, 96, 1, a.ptr, 96, b.ptr, 300, 0, whole.ptr, 300)
        expectClose(split, whole, tol: 1e-4)
    }
}
