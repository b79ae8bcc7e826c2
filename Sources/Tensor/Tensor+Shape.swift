/// Shape ops: reshape, permute, slice, concat, stack, index-select, pad, roll, flip.
/// All produce contiguous outputs; each VJP scatters the gradient back through the same map.
extension Tensor {
    /// Same elements, new shape (one dimension may be -1). Shares storage.
    public func reshape(_ newShape: [Int]) throws -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let rest = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            guard rest > 0, count % rest == 0 else {
                throw TensorError.shape(op: "reshape", message: "cannot reshape \(shapeString(shape)) to \(shapeString(newShape))")
            }
            s[i] = count / rest
        }
        guard s.reduce(1, *) == count, s.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.shape(op: "reshape", message: "cannot reshape \(shapeString(shape)) (\(count) elements) to \(shapeString(newShape))")
        }
        let out = Tensor(shape: s, storage: storage)
        return out.record("reshape", [self]) { [self] g in self.accumulateGrad(g) }
    }

    /// Flattens dimensions from `start` on into one.
    public func flatten(from start: Int = 0) throws -> Tensor {
        let a = start < 0 ? start + rank : start
        guard (0..<Swift.max(rank, 1)).contains(a) else {
            throw TensorError.argument(op: "flatten", message: "start \(start) is outside the axes of \(shapeString(shape))")
        }
        if rank == 0 { return try reshape([1]) }
        return try reshape(Array(shape[..<a]) + [shape[a...].reduce(1, *)])
    }

    /// Reorders dimensions: output dim i is input dim `order[i]`.
    public func permute(_ order: [Int]) throws -> Tensor {
        let order = order.map { $0 < 0 ? $0 + rank : $0 }
        guard order.count == rank, Set(order) == Set(0..<rank) else {
            throw TensorError.argument(op: "permute", message: "\(order) is not a permutation of the \(rank) dimensions of \(shapeString(shape))")
        }
        if order == Array(0..<rank) { return try reshape(shape) }
        let outShape = order.map { shape[$0] }
        let out = Tensor(uninitialized: outShape)
        Tensor.permuteCopy(ptr, shape, order, out.ptr, accumulate: false)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return out.record("permute", [self]) { [self] g in
            guard self.requiresGrad else { return }
            let (gx, acc) = self.gradDestination()
            Tensor.permuteCopy(g, outShape, inverse, gx, accumulate: acc)
        }
    }

    /// Swaps two dimensions.
    public func transpose(_ a: Int, _ b: Int) throws -> Tensor {
        var order = Array(0..<rank)
        let a = a < 0 ? a + rank : a, b = b < 0 ? b + rank : b
        guard a >= 0, a < rank, b >= 0, b < rank else {
            throw TensorError.argument(op: "transpose", message: "dimensions \(a), \(b) out of range for \(shapeString(shape))")
        }
        order.swapAt(a, b)
        return try permute(order)
    }

    /// dst[permuted] (=|+=) src, where dst dim i is src dim order[i]. The innermost output
    /// dimension is walked with the source stride (contiguous copy when it is the last one).
    static func permuteCopy(_ src: UnsafePointer<Float>, _ srcShape: [Int], _ order: [Int],
                            _ dst: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let r = srcShape.count
        var srcStrides = [Int](repeating: 1, count: r)
        for i in stride(from: r - 2, through: 0, by: -1) { srcStrides[i] = srcStrides[i + 1] * srcShape[i + 1] }
        let outShape = order.map { srcShape[$0] }
        let st = order.map { srcStrides[$0] }
        let inner = outShape[r - 1], innerStride = st[r - 1]
        let rows = outShape.dropLast().reduce(1, *)
        if rows == 0 || inner == 0 { return }
        // Each worker takes a range of output rows and computes its source offset from scratch.
        Parallel.forRange(rows, grain: Swift.max(1, 8192 / Swift.max(inner, 1))) { range in
            var idx = [Int](repeating: 0, count: r - 1)
            var rem = range.lowerBound
            for d in stride(from: r - 2, through: 0, by: -1) { idx[d] = rem % outShape[d]; rem /= outShape[d] }
            var off = 0
            for d in 0..<(r - 1) { off += idx[d] * st[d] }
            for row in range {
                let o = dst + row * inner
                if accumulate {
                    for k in 0..<inner { o[k] += src[off + k * innerStride] }
                } else if innerStride == 1 {
                    o.update(from: src + off, count: inner)
                } else {
                    for k in 0..<inner { o[k] = src[off + k * innerStride] }
                }
                var d = r - 2
                while d >= 0 {
                    idx[d] += 1; off += st[d]
                    if idx[d] < outShape[d] { break }
                    off -= st[d] * outShape[d]; idx[d] = 0; d -= 1
                }
            }
        }
    }

    /// (outer, n, inner) view of the tensor around `axis`.
    func split3(_ axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    func normAxis(_ axis: Int, _ op: String) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < rank else {
            throw TensorError.argument(op: op, message: "axis \(axis) out of range for shape \(shapeString(shape))")
        }
        return a
    }

    /// Elements `start, start+step, …` (below `end`) along `axis`. Negative start/end count from the end.
    public func slice(axis: Int, start: Int, end: Int? = nil, step: Int = 1) throws -> Tensor {
        let a = try normAxis(axis, "slice")
        let n = shape[a]
        var s = start < 0 ? start + n : start, e = end.map { $0 < 0 ? $0 + n : $0 } ?? n
        s = Swift.min(Swift.max(s, 0), n); e = Swift.min(Swift.max(e, 0), n)
        guard step > 0 else { throw TensorError.argument(op: "slice", message: "step must be positive, got \(step)") }
        let idx = Array(stride(from: s, to: e, by: step))
        return try indexSelect(axis: a, indices: idx, opName: "slice")
    }

    /// Picks the given indices along `axis` (repeats allowed; gradients add up).
    public func indexSelect(axis: Int, indices: [Int], opName: String = "index_select") throws -> Tensor {
        let a = try normAxis(axis, opName)
        let (outer, n, inner) = split3(a)
        for i in indices where i < 0 || i >= n {
            throw TensorError.argument(op: opName, message: "index \(i) out of range 0..<\(n) on axis \(a) of \(shapeString(shape))")
        }
        var outShape = shape; outShape[a] = indices.count
        let out = Tensor(uninitialized: outShape)
        let m = indices.count
        let src = ptr, dst = out.ptr
        Parallel.forRange(outer, grain: Swift.max(1, 16384 / Swift.max(1, m * inner))) { r in
            for o in r { for (j, i) in indices.enumerated() {
                (dst + (o * m + j) * inner).update(from: src + (o * n + i) * inner, count: inner)
            } }
        }
        return out.record(opName, [self]) { [self] g in
            guard self.requiresGrad else { return }
            let gb = self.gradBuffer()
            for o in 0..<outer { for (j, i) in indices.enumerated() {
                let d = gb + (o * n + i) * inner, s = g + (o * m + j) * inner
                for k in 0..<inner { d[k] += s[k] }
            } }
        }
    }

    /// Per item of the batch, picks its own rows: out[b, j] = x[b, rows[b][j]] (SMI's kept tokens).
    /// Every item keeps the same number of rows. - x: (B, N, D) → (B, K, D); gradients scatter back
    /// to the picked rows, the others get none.
    public func gatherTokens(_ rows: [[Int]]) throws -> Tensor {
        guard rank == 3, rows.count == shape[0] else {
            throw TensorError.shape(op: "gather_tokens", message: "expected (B, N, D) with B = \(rows.count) index lists, got \(shapeString(shape))")
        }
        let (n, d) = (shape[1], shape[2]), k = rows.first?.count ?? 0
        for (b, r) in rows.enumerated() {
            guard r.count == k else { throw TensorError.argument(op: "gather_tokens", message: "item \(b) keeps \(r.count) rows, item 0 keeps \(k)") }
            if let bad = r.first(where: { $0 < 0 || $0 >= n }) {
                throw TensorError.argument(op: "gather_tokens", message: "row \(bad) of item \(b) is out of range 0..<\(n)")
            }
        }
        // Flat row indices into (B·N, D), so one row gather does the whole batch.
        let flat = rows.enumerated().flatMap { b, r in r.map { b * n + $0 } }
        let out = Tensor(uninitialized: [shape[0], k, d])
        Tensor.gatherRows(ptr, flat, out.ptr, d, add: nil, accumulate: false)
        return out.record("gather_tokens", [self]) { [self] g in
            guard self.requiresGrad else { return }
            let gx = self.gradBuffer()  // rows are distinct per item, but add anyway (repeats allowed)
            for (i, src) in flat.enumerated() { let s = g + i * d, t = gx + src * d; for c in 0..<d { t[c] += s[c] } }
        }
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concat(_ ts: [Tensor], axis: Int) throws -> Tensor {
        guard let first = ts.first else { throw TensorError.argument(op: "concat", message: "needs at least one tensor") }
        let a = try first.normAxis(axis, "concat")
        for t in ts where t.rank != first.rank || (0..<first.rank).contains(where: { $0 != a && t.shape[$0] != first.shape[$0] }) {
            throw TensorError.shape(op: "concat", message: "\(shapeString(first.shape)) and \(shapeString(t.shape)) differ outside axis \(a)")
        }
        let sizes = ts.map { $0.shape[a] }
        var outShape = first.shape; outShape[a] = sizes.reduce(0, +)
        let out = Tensor(uninitialized: outShape)
        let outer = first.shape[..<a].reduce(1, *), inner = first.shape[(a + 1)...].reduce(1, *)
        let total = outShape[a]
        var offset = 0
        for (t, n) in zip(ts, sizes) {
            for o in 0..<outer { (out.ptr + (o * total + offset) * inner).update(from: t.ptr + o * n * inner, count: n * inner) }
            offset += n
        }
        return out.record("concat", ts) { g in
            var offset = 0
            for (t, n) in zip(ts, sizes) {
                if t.requiresGrad {
                    let gb = t.gradBuffer()
                    for o in 0..<outer {
                        let d = gb + o * n * inner, s = g + (o * total + offset) * inner
                        for k in 0..<(n * inner) { d[k] += s[k] }
                    }
                }
                offset += n
            }
        }
    }

    /// Stacks equal-shaped tensors along a new axis.
    public static func stack(_ ts: [Tensor], axis: Int = 0) throws -> Tensor {
        guard let first = ts.first else { throw TensorError.argument(op: "stack", message: "needs at least one tensor") }
        for t in ts where t.shape != first.shape {
            throw TensorError.shape(op: "stack", message: "\(shapeString(first.shape)) vs \(shapeString(t.shape))")
        }
        let a = axis < 0 ? axis + first.rank + 1 : axis
        var s = first.shape; s.insert(1, at: a)
        return try concat(ts.map { try $0.reshape(s) }, axis: a)
    }

    /// Constant padding: `pads[i] = (before, after)` for the last `pads.count` dimensions.
    public func pad(_ pads: [(Int, Int)], value: Float = 0) throws -> Tensor {
        guard pads.count <= rank else { throw TensorError.argument(op: "pad", message: "\(pads.count) pads for \(rank) dims") }
        let full = Array(repeating: (0, 0), count: rank - pads.count) + pads
        let outShape = zip(shape, full).map { $0 + $1.0 + $1.1 }
        let out = Tensor.full(outShape, value)
        // Map every input row (last dim) to its place in the output.
        let rows = shape.dropLast().reduce(1, *), inner = shape.last ?? 1
        func outOffset(_ row: Int) -> Int {
            var rem = row, off = 0, mul = 1
            off += full[rank - 1].0
            mul = outShape[rank - 1]
            for d in stride(from: rank - 2, through: 0, by: -1) {
                let i = rem % shape[d]; rem /= shape[d]
                off += (i + full[d].0) * mul
                mul *= outShape[d]
            }
            return off
        }
        for r in 0..<rows { (out.ptr + outOffset(r)).update(from: ptr + r * inner, count: inner) }
        return out.record("pad", [self]) { [self] g in
            guard self.requiresGrad else { return }
            let gb = self.gradBuffer()
            for r in 0..<rows { let s = g + outOffset(r), d = gb + r * inner; for k in 0..<inner { d[k] += s[k] } }
        }
    }

    /// Cyclic shift: element i moves to (i + shift) mod n along each axis (torch.roll).
    public func roll(shifts: [Int], axes: [Int]) throws -> Tensor {
        guard shifts.count == axes.count else { throw TensorError.argument(op: "roll", message: "\(shifts.count) shifts for \(axes.count) axes") }
        var t: Tensor = self
        for (s, ax) in zip(shifts, axes) {
            let a = try normAxis(ax, "roll"), n = shape[a]
            guard n > 0 else { continue }
            let k = ((s % n) + n) % n
            if k == 0 { continue }
            t = try t.indexSelect(axis: a, indices: (0..<n).map { ($0 - k + n) % n }, opName: "roll")
        }
        return t === self ? try reshape(shape) : t
    }

    /// Reverses the order of elements along each axis.
    public func flip(axes: [Int]) throws -> Tensor {
        var t: Tensor = self
        for ax in axes {
            let a = try normAxis(ax, "flip"), n = shape[a]
            t = try t.indexSelect(axis: a, indices: (0..<n).reversed(), opName: "flip")
        }
        return t
    }
}

extension Tensor {
    /// Rows reordered by a permutation, with an optional residual added: out[i] = self[perm[i]] (+ r[i]),
    /// rows being everything but the last dimension.
    /// - self: (…, C) with R rows, perm and inverse: permutations of 0..<R with inverse[perm[i]] = i,
    ///   residual: shape `outShape` or nil → `outShape` (R·C elements)
    ///
    /// Why: Swin's cyclic shift plus window partition (and its reverse plus the residual add) is
    /// one gather here instead of two rolls and a permute, each a full copy; and because the order
    /// is a permutation, the gradient is the inverse gather, written rather than scattered.
    public func permuteRows(_ perm: [Int], inverse: [Int], to outShape: [Int], residual: Tensor? = nil) throws -> Tensor {
        let c = shape.last ?? 1, rows = count / Swift.max(c, 1)
        guard perm.count == rows, inverse.count == rows, outShape.reduce(1, *) == count, outShape.last == c else {
            throw TensorError.shape(op: "permute_rows", message: "\(shapeString(shape)) with \(perm.count) row indices to \(shapeString(outShape))")
        }
        // perm and inverse must be mutually inverse permutations: the gather trusts every index,
        // and the backward writes (not adds) through `inverse`. O(R), small next to the copy.
        for (i, p) in perm.enumerated() where p < 0 || p >= rows || inverse[p] != i {
            throw TensorError.argument(op: "permute_rows", message: "row order is not a permutation with the given inverse (at row \(i): \(p))")
        }
        if let residual, residual.shape != outShape {
            throw TensorError.shape(op: "permute_rows", message: "residual \(shapeString(residual.shape)) vs output \(shapeString(outShape))")
        }
        let out = Tensor(uninitialized: outShape)
        Tensor.gatherRows(ptr, perm, out.ptr, c, add: residual?.ptr, accumulate: false)
        var inputs = [self]
        if let residual { inputs.append(residual) }
        return out.record("permute_rows", inputs) { [self] g in
            // out[i] = x[perm[i]] + r[i]:  dx[j] = g[inverse[j]],  dr = g.
            if self.requiresGrad {
                let (gx, acc) = self.gradDestination()
                Tensor.gatherRows(g, inverse, gx, c, add: nil, accumulate: acc)
            }
            residual?.accumulateGrad(g)
        }
    }

    /// dst[i] (+)= src[idx[i]] (+ add[i]) for rows of `c` floats.
    static func gatherRows(_ src: UnsafePointer<Float>, _ idx: [Int], _ dst: UnsafeMutablePointer<Float>, _ c: Int,
                           add: UnsafePointer<Float>?, accumulate: Bool) {
        idx.withUnsafeBufferPointer { ib in
            let ip = ib.baseAddress!
            Parallel.forRange(idx.count, grain: Swift.max(1, 16384 / Swift.max(c, 1))) { r in
                for i in r {
                    let s = src + ip[i] * c, d = dst + i * c
                    if let add { let a = add + i * c; if accumulate { for k in 0..<c { d[k] += s[k] + a[k] } } else { for k in 0..<c { d[k] = s[k] + a[k] } } }
                    else if accumulate { for k in 0..<c { d[k] += s[k] } }
                    else { d.update(from: s, count: c) }
                }
            }
        }
    }
}
