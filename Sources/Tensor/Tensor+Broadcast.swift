import CKernels

/// Broadcasting (NumPy rules) and the reduction of a broadcast gradient back to an input shape.
extension Tensor {
    /// The broadcast shape of two shapes, or a shape error naming the op and both shapes.
    /// The result is checked against `maxBytes` here, before any op allocates it: a (32768, 1)
    /// times a (65536) operand would otherwise grow to 8 GiB of output plus 8 GiB of offsets.
    public static func broadcastShape(_ a: [Int], _ b: [Int], op: String) throws -> [Int] {
        let n = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else {
                throw TensorError.shape(op: op, message: "\(shapeString(a)) and \(shapeString(b)) do not broadcast")
            }
        }
        try checkAllocation(out, op: op)
        return out
    }

    /// Row-major strides of `shape` seen inside `out` (0 on broadcast dimensions).
    static func broadcastStrides(_ shape: [Int], in out: [Int]) -> [Int] {
        let pad = out.count - shape.count
        var strides = [Int](repeating: 0, count: out.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i + pad] = shape[i] == 1 ? 0 : s
            s *= shape[i]
        }
        return strides
    }

    /// Offsets into a tensor of shape `shape` for every element of `out` in row-major order.
    /// Used by the general broadcast path only (the common cases have fast paths).
    static func broadcastOffsets(_ shape: [Int], in out: [Int]) -> [Int32] {
        let strides = broadcastStrides(shape, in: out)
        let n = out.reduce(1, *)
        var offs = [Int32](repeating: 0, count: n)
        if n == 0 { return offs }
        var idx = [Int](repeating: 0, count: out.count)
        var off = 0
        for i in 0..<n {
            offs[i] = Int32(off)
            var d = out.count - 1
            while d >= 0 {
                idx[d] += 1; off += strides[d]
                if idx[d] < out[d] { break }
                off -= strides[d] * out[d]; idx[d] = 0; d -= 1
            }
        }
        return offs
    }

    /// How an operand of shape `shape` is laid out inside the output `out`.
    enum Layout {
        case same                // identical element order
        case scalar              // one element repeated
        case suffix(period: Int) // shape is a suffix of out: repeats every `period` elements
        case general([Int32])    // explicit offsets
    }

    static func layout(_ shape: [Int], in out: [Int]) -> Layout {
        let n = shape.reduce(1, *)
        if shape == out || n == out.reduce(1, *) && dropLeadingOnes(shape) == dropLeadingOnes(out) { return .same }
        if n == 1 { return .scalar }
        let s = dropLeadingOnes(shape)
        if s.count <= out.count && Array(out.suffix(s.count)) == s { return .suffix(period: n) }
        return .general(broadcastOffsets(shape, in: out))
    }

    static func dropLeadingOnes(_ s: [Int]) -> [Int] { Array(s.drop { $0 == 1 }) }

    /// Sums a gradient `g` of shape `out` down to `shape` and adds `scale` times it into `t`'s
    /// gradient.
    static func accumulateReduced(_ g: UnsafePointer<Float>, out: [Int], into t: Tensor, scale: Float = 1) {
        guard t.requiresGrad else { return }
        let n = out.reduce(1, *)
        switch layout(t.shape, in: out) {
        case .same:
            t.accumulateGrad(g, scale: scale)
        case .scalar:
            var s: Float = 0
            for i in 0..<n { s += g[i] }
            t.gradBuffer()[0] += scale * s
        case .suffix(let p):
            let dst = t.gradBuffer()
            if p == 1 { var s: Float = 0; for i in 0..<n { s += g[i] }; dst[0] += scale * s; return }
            // Rows of the (n/p, p) gradient summed column-wise, the columns split over the workers.
            let tmp = Storage(zeros: p)
            Parallel.forRange(p, grain: Swift.max(64, (1 << 16) / Swift.max(n / p, 1))) { c in
                ck_sum_rows(g, tmp.ptr, n / p, p, c.lowerBound, c.upperBound)
            }
            for i in 0..<p { dst[i] += scale * tmp.ptr[i] }
        case .general(let offs):
            let dst = t.gradBuffer()
            for i in 0..<n { dst[Int(offs[i])] += scale * g[i] }
        }
    }
}
