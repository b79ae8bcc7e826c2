/// Comparing tensors in tests: the largest relative difference and a readable mismatch report.
extension Tensor {
    /// max |a − b| / max(|b|∞, floor): the error relative to the reference's scale.
    public func maxRelativeDifference(to ref: Tensor, floor: Float = 1e-6) -> Float {
        guard shape == ref.shape || count == ref.count else { return .infinity }
        var m: Float = floor, d: Float = 0
        for i in 0..<count {
            m = Swift.max(m, Swift.abs(ref.ptr[i]))
            let e = Swift.abs(ptr[i] - ref.ptr[i])
            if e.isNaN { return .infinity }
            d = Swift.max(d, e)
        }
        return d / m
    }

    /// Both tensors side by side (first `limit` elements), for failing tests.
    public func mismatchReport(_ ref: Tensor, limit: Int = 12) -> String {
        var s = "actual \(shapeString(shape)) vs expected \(shapeString(ref.shape))\n"
        for i in 0..<Swift.min(limit, Swift.min(count, ref.count)) {
            s += "  [\(i)] \(ptr[i])  \(ref.ptr[i])  Δ=\(ptr[i] - ref.ptr[i])\n"
        }
        return s
    }
}
