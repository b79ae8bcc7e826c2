import Testing
@testable import Tensor

/// Expects `a` ≈ `b` (relative to b's scale); prints both tensors on mismatch.
func expectClose(_ a: Tensor, _ b: Tensor, tol: Float = 1e-5, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.shape == b.shape, "shape \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    let e = a.maxRelativeDifference(to: b)
    #expect(e <= tol, "max relative difference \(e) > \(tol)\n\(a.mismatchReport(b))", sourceLocation: sourceLocation)
}

func t(_ shape: [Int], _ v: [Float]) -> Tensor { try! Tensor(shape: shape, v) }

func randn(_ shape: [Int], seed: UInt64) -> Tensor {
    var r = RNG(seed: seed)
    return Tensor.normal(shape, rng: &r)
}
