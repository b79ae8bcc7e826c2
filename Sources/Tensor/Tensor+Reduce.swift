import CKernels

/// Reductions over axes. Each is computed on an (outer, n, inner) view of one axis;
/// several axes reduce one after another.
extension Tensor {
    /// Σ over `axes` (all axes when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
        let axs = try (axes ?? Array(0..<rank)).map { try normAxis($0, "sum") }.sorted(by: >)
        var t: Tensor = self
        for a in axs { t = t.sumAxis(a) }  // keeps dims as size 1
        if keepDims || rank == 0 { return t === self ? try reshape(shape) : t }
        let s = shape.enumerated().filter { !axs.contains($0.offset) }.map(\.element)
        return try t.reshape(s)
    }

    /// Mean over `axes` (all axes when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
        let axs = try (axes ?? Array(0..<rank)).map { try normAxis($0, "mean") }
        let n = axs.reduce(1) { $0 * shape[$1] }
        return try sum(axes: axs, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    /// Sum over one axis, keeping it as size 1.
    func sumAxis(_ a: Int) -> Tensor {
        let (outer, n, inner) = split3(a)
        var outShape = shape; outShape[a] = 1
        let out = Tensor.zeros(outShape)
        let src = ptr, dst = out.ptr
        Parallel.forRange(outer, grain: Swift.max(1, 32768 / Swift.max(1, n * inner))) { r in
            for o in r {
                let d = dst + o * inner
                for j in 0..<n { let s = src + (o * n + j) * inner; for k in 0..<inner { d[k] += s[k] } }
            }
        }
        return out.record("sum", [self]) { [self] g in
            guard self.requiresGrad else { return }
            let gb = self.gradBuffer()
            Parallel.forRange(outer, grain: Swift.max(1, 32768 / Swift.max(1, n * inner))) { r in
                for o in r {
                    let s = g + o * inner
                    for j in 0..<n { let d = gb + (o * n + j) * inner; for k in 0..<inner { d[k] += s[k] } }
                }
            }
        }
    }

    /// Maximum along `axis` (gradient to the first maximal element).
    public func max(axis: Int, keepDims: Bool = false) throws -> Tensor {
        let a = try normAxis(axis, "max")
        let (outer, n, inner) = split3(a)
        guard n > 0 else { throw TensorError.argument(op: "max", message: "empty axis \(a) in \(shapeString(shape))") }
        let idx = argmaxRaw(a)
        var outShape = shape
        if keepDims { outShape[a] = 1 } else { outShape.remove(at: a) }
        let out = Tensor(uninitialized: outShape)
        for o in 0..<outer { for k in 0..<inner { out.ptr[o * inner + k] = ptr[(o * n + idx[o * inner + k]) * inner + k] } }
        return out.record("max", [self]) { [self] g in
            guard self.requiresGrad else { return }
            let gb = self.gradBuffer()
            for o in 0..<outer { for k in 0..<inner { gb[(o * n + idx[o * inner + k]) * inner + k] += g[o * inner + k] } }
        }
    }

    /// Index of the maximum along `axis` (first one on ties). No gradient.
    public func argmax(axis: Int) throws -> [Int] {
        let a = try normAxis(axis, "argmax")
        guard shape[a] > 0 else { throw TensorError.argument(op: "argmax", message: "empty axis \(a) in \(shapeString(shape))") }
        return argmaxRaw(a)
    }

    func argmaxRaw(_ a: Int) -> [Int] {
        let (outer, n, inner) = split3(a)
        var res = [Int](repeating: 0, count: outer * inner)
        for o in 0..<outer { for k in 0..<inner {
            var best = -Float.infinity, bi = 0
            for j in 0..<n { let v = ptr[(o * n + j) * inner + k]; if v > best || (v.isNaN && !best.isNaN) { best = v; bi = j } }
            res[o * inner + k] = bi
        } }
        return res
    }

    /// Variance over `axes` (biased, divides by n, as LayerNorm uses; `unbiased` divides by n−1).
    /// Composite: mean((x − mean x)²).
    public func variance(axes: [Int]? = nil, keepDims: Bool = false, unbiased: Bool = false) throws -> Tensor {
        let axs = try (axes ?? Array(0..<rank)).map { try normAxis($0, "variance") }
        let n = axs.reduce(1) { $0 * shape[$1] }
        let centered = try self - mean(axes: axs, keepDims: true)
        let ss = try centered.pow(2).sum(axes: axs, keepDims: keepDims)
        return ss * (1 / Float(Swift.max(unbiased ? n - 1 : n, 1)))
    }

    /// log Σ exp along `axis`, stable (max subtracted). Gradient is softmax.
    public func logsumexp(axis: Int = -1, keepDims: Bool = false) throws -> Tensor {
        let a = try normAxis(axis, "logsumexp")
        let (outer, n, inner) = split3(a)
        var outShape = shape
        if keepDims { outShape[a] = 1 } else { outShape.remove(at: a) }
        let out = Tensor(uninitialized: outShape)
        var tmp = [Float](repeating: 0, count: n)
        for o in 0..<outer { for k in 0..<inner {
            var m = -Float.infinity
            for j in 0..<n { m = Swift.max(m, ptr[(o * n + j) * inner + k]) }
            for j in 0..<n { tmp[j] = ptr[(o * n + j) * inner + k] - m }
            ck_exp(tmp, &tmp, n)
            var s: Float = 0
            for j in 0..<n { s += tmp[j] }
            out.ptr[o * inner + k] = m + Foundation_logf(s)
        } }
        return out.record("logsumexp", [self]) { [self, unowned out] g in
            guard self.requiresGrad else { return }
            let gb = self.gradBuffer()
            var e = [Float](repeating: 0, count: n)
            for o in 0..<outer { for k in 0..<inner {
                let l = out.ptr[o * inner + k]
                for j in 0..<n { e[j] = self.ptr[(o * n + j) * inner + k] - l }
                ck_exp(e, &e, n)
                for j in 0..<n { gb[(o * n + j) * inner + k] += g[o * inner + k] * e[j] }
            } }
        }
    }

    /// The q-quantile of all elements, linear interpolation between order statistics
    /// (torch.quantile's default). No gradient.
    public func quantile(_ q: Float) throws -> Float {
        guard q >= 0 && q <= 1 else { throw TensorError.argument(op: "quantile", message: "q must be in [0, 1], got \(q)") }
        guard count > 0 else { throw TensorError.argument(op: "quantile", message: "empty tensor") }
        return Tensor.quantileSorted(array.sorted(), Double(q))
    }

    /// Several quantiles from one sort.
    public func quantiles(_ qs: [Float]) throws -> [Float] {
        guard count > 0 else { throw TensorError.argument(op: "quantile", message: "empty tensor") }
        let s = array.sorted()
        return qs.map { Tensor.quantileSorted(s, Double($0)) }
    }

    public static func quantileSorted(_ s: [Float], _ q: Double) -> Float {
        let pos = q * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = Swift.min(lo + 1, s.count - 1)
        let frac = Float(pos - Double(lo))
        return s[lo] + (s[hi] - s[lo]) * frac
    }
}
