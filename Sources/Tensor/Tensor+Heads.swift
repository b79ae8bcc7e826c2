/// Attention head layout: the split of a fused qkv projection into per-head operands.
extension Tensor {
    /// The `parts` operands of a fused projection, each split into heads, in one copy per part
    /// (instead of a permute of the whole projection followed by a copying slice per part).
    /// - self: (B, N, parts·H·hd), read as (B, N, parts, H, hd) as timm reshapes qkv
    /// - returns: `parts` tensors of shape (B, H, N, hd)
    public func splitHeads(parts: Int, heads: Int) throws -> [Tensor] {
        guard rank == 3, parts > 0, heads > 0, shape[2] % (parts * heads) == 0 else {
            throw TensorError.shape(op: "split_heads", message: "input \(shapeString(shape)) (B, N, parts·H·hd) does not split into \(parts) parts of \(heads) heads")
        }
        let (b, n) = (shape[0], shape[1])
        let hd = shape[2] / (parts * heads), width = shape[2]
        let rows = b * heads * n  // output rows of hd elements, in (B, H, N) order
        // Offset of output row (bi, hh, ni) of part p in the input.
        @inline(__always) func src(_ row: Int, _ p: Int) -> Int {
            let ni = row % n, bh = row / n, hh = bh % heads, bi = bh / heads
            return (bi * n + ni) * width + (p * heads + hh) * hd
        }
        return (0..<parts).map { p in
            let out = Tensor(uninitialized: [b, heads, n, hd])
            let x = ptr, y = out.ptr
            Parallel.forRange(rows, grain: Swift.max(1, 16384 / Swift.max(hd, 1))) { r in
                for row in r { (y + row * hd).update(from: x + src(row, p), count: hd) }
            }
            return out.record("split_heads", [self]) { [self] g in
                // The parts cover disjoint columns of the input; each adds its own.
                guard self.requiresGrad else { return }
                let gx = self.gradBuffer()
                Parallel.forRange(rows, grain: Swift.max(1, 16384 / Swift.max(hd, 1))) { r in
                    for row in r {
                        let d = gx + src(row, p), s = g + row * hd
                        for j in 0..<hd { d[j] += s[j] }
                    }
                }
            }
        }
    }
}
