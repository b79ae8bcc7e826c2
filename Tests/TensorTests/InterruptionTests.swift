import Foundation
import Testing
@testable import Tensor

/// Large matmuls check `Interruption` between row panels (Ctrl-C in the REPL stops them).
@Suite(.serialized) struct InterruptionTests {
    /// Polls true from the `after`-th check on, and only on this test's thread (the suite runs in
    /// parallel with others that must not be interrupted).
    static func withInterrupt<T>(after: Int, _ body: () throws -> T) rethrows -> T {
        let me = Thread.current
        var checks = 0
        // Other threads (tests running in parallel) keep whatever poll was there before.
        let previous = Interruption.poll
        Interruption.poll = {
            guard Thread.current === me else { return previous?() ?? false }
            checks += 1
            return checks >= after
        }
        defer { Interruption.poll = previous }
        return try body()
    }

    @Test func aLargeMatmulStopsBetweenPanelsAndLeavesTheHeapWhole() throws {
        var r = RNG(seed: 1)
        let a = Tensor.normal([512, 8192], rng: &r), b = Tensor.normal([8192, 2560], rng: &r)  // 21 GFLOP: 2 panels
        #expect(throws: ComputationInterrupted(op: "matmul")) {
            try Self.withInterrupt(after: 1) { try Tensor.matmul(a, b) }
        }
        // Not interrupted, the panels give the one-GEMM result.
        let whole = try Tensor.matmul(a, b)
        let small = try Tensor.matmul(a.slice(axis: 0, start: 0, end: 8), b)
        for i in 0..<(8 * 2560) { #expect(Swift.abs(whole.ptr[i] - small.ptr[i]) <= 1e-3 * Swift.max(1, Swift.abs(small.ptr[i]))) }
        // Batched products stop between items.
        let x = Tensor.normal([2, 256, 8192], rng: &r), y = Tensor.normal([2, 8192, 2560], rng: &r)
        #expect(throws: ComputationInterrupted(op: "matmul")) {
            try Self.withInterrupt(after: 1) { try Tensor.matmul(x, y) }
        }
        // The heap is intact afterwards (a stray write by a panel would show up here or at exit).
        for _ in 0..<50 { _ = Tensor.zeros([1000 + Int.random(in: 0..<100)]) }
    }
}
