import CKernels

/// Matrix products through single-threaded GEMM calls (`ck_sgemm_1t`: oneDNN, or OpenBLAS):
/// matmul (plain and batched), linear, patch embedding.
extension Tensor {
    /// C (m, n) = op(A) · op(B) (+ C when `accumulate`), row-major. Large products are split
    /// into one block of rows (or of columns, when C is wider than tall) per worker, each a
    /// single-threaded GEMM call; see `Parallel` for why the GEMM library never threads itself.
    static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                     _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                     accumulate: Bool = false, alpha: Float = 1) {
        if m == 0 || n == 0 { return }
        if k == 0 { if !accumulate { c.initialize(repeating: 0, count: m * n) }; return }
        Parallel.useSingleThreadedBLAS()
        let lda = transA ? m : k, ldb = transB ? k : n
        let ldc = n  // blocks keep C's full row stride
        func call(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ m: Int, _ n: Int) {
            ck_sgemm_1t(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha,
                     a, Int32(lda), b, Int32(ldb), accumulate ? 1 : 0, c, Int32(ldc))
        }
        let parts = Parallel.workers > 1 && m * n * k >= gemmSplitAbove ? Parallel.workers : 1
        if parts == 1 { call(a, b, c, m, n); return }
        // Block edges on multiples of 16 rows/columns (the kernels' register blocking).
        func edge(_ total: Int, _ i: Int) -> Int { i == parts ? total : Swift.min(total, (total * i / parts + 8) / 16 * 16) }
        if m >= n {
            Parallel.forEach(parts) { p in
                let i0 = edge(m, p), i1 = edge(m, p + 1)
                if i1 > i0 { call(transA ? a + i0 : a + i0 * lda, b, c + i0 * n, i1 - i0, n) }
            }
        } else {
            Parallel.forEach(parts) { p in
                let j0 = edge(n, p), j1 = edge(n, p + 1)
                if j1 > j0 { call(a, transB ? b + j0 * ldb : b + j0, c + j0, m, j1 - j0) }
            }
        }
    }

    /// Products with at least this many multiply-adds are split over the workers.
    public nonisolated(unsafe) static var gemmSplitAbove = 1 << 20

    /// Below this many multiply-adds per matrix, a batch of GEMMs runs one matrix per worker;
    /// above it, each GEMM is split over the workers. Chosen with `bench gemm`.
    public nonisolated(unsafe) static var batchedParallelBelow = 64 * 1024 * 1024

    /// `batch` independent GEMMs with element strides between consecutive matrices
    /// (stride 0 = the same matrix for every item).
    static func gemmBatched(_ batch: Int, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                            _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                            _ c: UnsafeMutablePointer<Float>, _ sc: Int, accumulate: Bool = false, alpha: Float = 1) {
        if batch > 1 && m * n * k < batchedParallelBelow && Parallel.workers > 1 {
            Parallel.useSingleThreadedBLAS()
            let lda = transA ? m : k, ldb = transB ? k : n
            Parallel.forEach(batch) { i in
                if m == 0 || n == 0 { return }
                if k == 0 { if !accumulate { (c + i * sc).initialize(repeating: 0, count: m * n) }; return }
                ck_sgemm_1t(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a + i * sa, Int32(lda),
                         b + i * sb, Int32(ldb), accumulate ? 1 : 0, c + i * sc, Int32(n))
            }
        } else {
            for i in 0..<batch { gemm(transA, transB, m, n, k, a + i * sa, b + i * sb, c + i * sc, accumulate: accumulate, alpha: alpha) }
        }
    }

    /// Matrix product with optional transposes of the last two dims.
    /// - a: (…, M, K) — or (…, K, M) with `transA`
    /// - b: (K, N) shared by every batch item, or (…, K, N) with the same leading dims as a
    ///   (or (…, N, K) with `transB`)
    /// - returns: (…, M, N)
    /// Above this many floating-point operations a matmul checks for Ctrl-C between parts
    /// (about 0.1–0.4 s of GEMM on the machines this runs on).
    static let interruptibleFlops = 2e10

    public static func matmul(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false, alpha: Float = 1) throws -> Tensor {
        guard a.rank >= 2, b.rank >= 2 else {
            throw TensorError.shape(op: "matmul", message: "needs 2-D or higher operands, got \(shapeString(a.shape)) @ \(shapeString(b.shape))")
        }
        let m = transA ? a.shape[a.rank - 1] : a.shape[a.rank - 2]
        let k = transA ? a.shape[a.rank - 2] : a.shape[a.rank - 1]
        let kb = transB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
        let n = transB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
        let lead = Array(a.shape.dropLast(2))
        guard k == kb, b.rank == 2 || Array(b.shape.dropLast(2)) == lead else {
            throw TensorError.shape(op: "matmul", message: "\(shapeString(a.shape)) @ \(shapeString(b.shape))\(transB ? "ᵀ" : "")")
        }
        let batch = lead.reduce(1, *)
        try checkAllocation(lead + [m, n], op: "matmul")  // (N, 1) @ (1, N) is an outer-product bomb
        let out = Tensor(uninitialized: lead + [m, n])
        let shared = b.rank == 2
        // A product of more than `interruptibleFlops` runs in row panels (or batch items) of about
        // that size with an interrupt check between them, so Ctrl-C stops it within a fraction of a second.
        let flops = 2 * Double(batch) * Double(m) * Double(n) * Double(k)
        if shared && !transA {
            // Panels of at least 64 rows, so that each panel's GEMM keeps the speed of the whole.
            let rows = batch * m, panel = flops > interruptibleFlops ? Swift.max(64, Int(Double(rows) * interruptibleFlops / flops)) : rows
            for r0 in stride(from: 0, to: rows, by: panel) {
                if r0 > 0 { try Interruption.check("matmul") }
                let r = Swift.min(panel, rows - r0)
                gemm(false, transB, r, n, k, a.ptr + r0 * k, b.ptr, out.ptr + r0 * n, alpha: alpha)  // one big GEMM when small
            }
        } else if flops > interruptibleFlops && batch > 1 {
            for i in 0..<batch {
                if i > 0 { try Interruption.check("matmul") }
                gemmBatched(1, transA, transB, m, n, k, a.ptr + i * m * k, m * k, b.ptr + (shared ? 0 : i * k * n), shared ? 0 : k * n,
                            out.ptr + i * m * n, m * n, alpha: alpha)
            }
        } else {
            gemmBatched(batch, transA, transB, m, n, k, a.ptr, m * k, b.ptr, shared ? 0 : k * n, out.ptr, m * n, alpha: alpha)
        }
        return out.record("matmul", [a, b]) { g in
            // C = α·op(A)·op(B):  dA = α·g·op(B)ᵀ (transposed back if transA),  dB likewise.
            // Every GEMM below writes all of its output, so a fresh gradient buffer is written
            // with β = 0 instead of being zero-filled first (see `gradDestination`).
            if a.requiresGrad {
                let (ga, acc) = a.gradDestination()
                if shared && !transA {
                    gemm(false, !transB, batch * m, k, n, g, b.ptr, ga, accumulate: acc, alpha: alpha)
                } else if !transA {
                    gemmBatched(batch, false, !transB, m, k, n, g, m * n, b.ptr, shared ? 0 : k * n, ga, m * k, accumulate: acc, alpha: alpha)
                } else {  // A stored (K, M): dAᵀ = op(B)·gᵀ
                    gemmBatched(batch, transB, true, k, m, n, b.ptr, shared ? 0 : k * n, g, m * n, ga, m * k, accumulate: acc, alpha: alpha)
                }
            }
            if b.requiresGrad {
                let (gb, acc) = b.gradDestination()
                if shared && !transA {
                    // Sum over the batch in one GEMM on the flattened rows.
                    if transB { gemm(true, false, n, k, batch * m, g, a.ptr, gb, accumulate: acc, alpha: alpha) }
                    else { gemm(true, false, k, n, batch * m, a.ptr, g, gb, accumulate: acc, alpha: alpha) }
                } else if shared {
                    for i in 0..<batch {
                        let acc = acc || i > 0
                        if transB { gemm(true, true, n, k, m, g + i * m * n, a.ptr + i * m * k, gb, accumulate: acc, alpha: alpha) }
                        else { gemm(false, false, k, n, m, a.ptr + i * m * k, g + i * m * n, gb, accumulate: acc, alpha: alpha) }
                    }
                } else if transB {  // B stored (N, K): dB = gᵀ·op(A)
                    gemmBatched(batch, true, transA, n, k, m, g, m * n, a.ptr, m * k, gb, k * n, accumulate: acc, alpha: alpha)
                } else {            // dB = op(A)ᵀ·g
                    gemmBatched(batch, !transA, false, k, n, m, a.ptr, m * k, g, m * n, gb, k * n, accumulate: acc, alpha: alpha)
                }
            }
        }
    }

    public func matmul(_ b: Tensor) throws -> Tensor { try Tensor.matmul(self, b) }

    /// Fully connected layer as `nn.Linear`, optionally with a residual branch added:
    /// y = x·Wᵀ + b (+ r).
    /// - x: (…, in), weight: (out, in), bias: (out) or nil, residual: (…, out) or nil → (…, out)
    ///
    /// Why the residual is fused: a transformer block's `x + proj(…)` and `x + fc2(…)` would
    /// otherwise write the GEMM's output and then read it again with x for the add. Here the
    /// output starts as r + b (the bias fill reads r on the way) and the GEMM accumulates onto
    /// it, so the add costs no pass of its own; the residual's gradient is g itself.
    public func linear(weight: Tensor, bias: Tensor?, residual: Tensor? = nil) throws -> Tensor {
        let (rows, din, dout) = try linearSizes("linear", weight, bias)
        let outShape = Array(shape.dropLast()) + [dout]
        if let residual, residual.shape != outShape {
            throw TensorError.shape(op: "linear", message: "residual \(shapeString(residual.shape)) vs output \(shapeString(outShape))")
        }
        let out = Tensor(uninitialized: outShape)
        let o = out.ptr
        switch (bias?.ptr, residual?.ptr) {
        case let (bp?, rp?):
            Parallel.forRange(rows, grain: Swift.max(1, 16384 / Swift.max(dout, 1))) { r in
                for i in r { let oi = o + i * dout, ri = rp + i * dout; for j in 0..<dout { oi[j] = ri[j] + bp[j] } }
            }
        case let (bp?, nil):
            Parallel.forRange(rows, grain: Swift.max(1, 16384 / Swift.max(dout, 1))) { r in
                for i in r { (o + i * dout).update(from: bp, count: dout) }
            }
        case let (nil, rp?):
            Parallel.forRange(rows * dout, grain: 1 << 16) { r in (o + r.lowerBound).update(from: rp + r.lowerBound, count: r.count) }
        case (nil, nil): break
        }
        Tensor.gemm(false, true, rows, dout, din, ptr, weight.ptr, out.ptr, accumulate: bias != nil || residual != nil)
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        if let residual { inputs.append(residual) }
        return out.record(residual == nil ? "linear" : "linear_residual", inputs) { [self] g in
            // y = x·Wᵀ + b + r:  dr = g, the rest as for a plain linear layer.
            self.linearBackward(g, weight, bias, rows: rows, din: din, dout: dout)
            residual?.accumulateGrad(g)
        }
    }

    /// (rows, in, out) of a linear layer on self, after checking weight (out, in) and bias (out).
    private func linearSizes(_ op: String, _ weight: Tensor, _ bias: Tensor?) throws -> (Int, Int, Int) {
        guard weight.rank == 2, let din = shape.last, weight.shape[1] == din else {
            throw TensorError.shape(op: op, message: "input \(shapeString(shape)) vs weight \(shapeString(weight.shape)) (out, in)")
        }
        let dout = weight.shape[0]
        if let bias, bias.shape != [dout] {
            throw TensorError.shape(op: op, message: "bias \(shapeString(bias.shape)) vs \(dout) outputs")
        }
        return (count / Swift.max(din, 1), din, dout)
    }

    /// Gradients of y = x·Wᵀ + b (x = self) from dy (rows, out):  dx = dy·W,  dW = dyᵀ·x,  db = Σ_rows dy.
    private func linearBackward(_ dy: UnsafeMutablePointer<Float>, _ weight: Tensor, _ bias: Tensor?, rows: Int, din: Int, dout: Int) {
        if requiresGrad {
            let (gx, acc) = gradDestination()
            Tensor.gemm(false, false, rows, din, dout, dy, weight.ptr, gx, accumulate: acc)
        }
        if weight.requiresGrad {
            let (gw, acc) = weight.gradDestination()
            Tensor.gemm(true, false, dout, din, rows, dy, ptr, gw, accumulate: acc)
        }
        if let bias, bias.requiresGrad {
            let gb = bias.gradBuffer()
            Parallel.forRange(dout, grain: 64) { c in ck_sum_rows(dy, gb, rows, dout, c.lowerBound, c.upperBound) }
        }
    }

    /// A transformer MLP's first layer and its activation in one op: y = GELU(x·Wᵀ + b).
    /// - x: (…, in), weight: (out, in), bias: (out) → (…, out)
    ///
    /// Why fused: the GEMM writes c = x·Wᵀ with β = 0, and the activation reads c and b, so the
    /// bias is never written out as a prefill for the GEMM to read back. The backward recomputes
    /// z = c + b inside the GELU-gradient kernel: dz = g·GELU'(z), then the linear backward on dz.
    public func linearGELU(weight: Tensor, bias: Tensor) throws -> Tensor {
        let (rows, din, dout) = try linearSizes("linear_gelu", weight, bias)
        let c = Storage(count: rows * dout)                                   // x·Wᵀ, (rows, out)
        Tensor.gemm(false, true, rows, dout, din, ptr, weight.ptr, c.ptr)
        let out = Tensor(uninitialized: Array(shape.dropLast()) + [dout])
        let grain = Swift.max(1, 16384 / Swift.max(dout, 1))
        Parallel.forRange(rows, grain: grain) { r in
            ck_gelu_bias_rows(c.ptr + r.lowerBound * dout, bias.ptr, out.ptr + r.lowerBound * dout, r.count, dout)
        }
        return out.record("linear_gelu", [self, weight, bias]) { [self] g in
            // dz = g·GELU'(c + b), then the linear layer's backward on dz.
            let dz = Storage(count: rows * dout)
            Parallel.forRange(rows, grain: grain) { r in
                ck_gelu_bias_backward_rows(c.ptr + r.lowerBound * dout, bias.ptr, g + r.lowerBound * dout,
                                           dz.ptr + r.lowerBound * dout, r.count, dout, 0)
            }
            self.linearBackward(dz.ptr, weight, bias, rows: rows, din: din, dout: dout)
        }
    }

    /// The patches of an image as rows (im2col for a convolution with stride = kernel = `patch`):
    /// row (b, gy, gx) holds the patch's pixels in (c, py, px) order, the order of a flattened
    /// (D, C, P, P) kernel. No gradient is recorded. - self: (B, C, H, W) → (B·(H/P)·(W/P), C·P·P)
    public func patchColumns(patch p: Int) throws -> Tensor {
        guard rank == 4, p > 0, shape[2] % p == 0, shape[3] % p == 0 else {
            throw TensorError.shape(op: "patch_columns", message: "image \(shapeString(shape)) is not (B, C, H, W) divisible by patch \(p)")
        }
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let gh = h / p, gw = w / p, n = gh * gw, kdim = c * p * p
        let cols = Tensor(uninitialized: [b * n, kdim])
        let x = ptr, cp = cols.ptr
        Parallel.forEach(b) { bi in
            for gy in 0..<gh { for gx in 0..<gw {
                let row = cp + ((bi * n) + gy * gw + gx) * kdim
                for ci in 0..<c { for py in 0..<p {
                    (row + (ci * p + py) * p).update(from: x + ((bi * c + ci) * h + gy * p + py) * w + gx * p, count: p)
                } }
            } }
        }
        return cols
    }

    /// Patch embedding, a convolution with stride = kernel = `patch` (timm's `PatchEmbed`),
    /// flattened to tokens in row-major grid order.
    /// - self: (B, C, H, W), weight: (D, C, P, P), bias: (D) → (B, (H/P)·(W/P), D)
    public func patchEmbed(weight: Tensor, bias: Tensor?) throws -> Tensor {
        guard rank == 4, weight.rank == 4, weight.shape[1] == shape[1], weight.shape[2] == weight.shape[3] else {
            throw TensorError.shape(op: "patch_embed", message: "input \(shapeString(shape)) (B, C, H, W) vs weight \(shapeString(weight.shape)) (D, C, P, P)")
        }
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let p = weight.shape[2], d = weight.shape[0]
        guard h % p == 0, w % p == 0 else {
            throw TensorError.shape(op: "patch_embed", message: "image \(h)×\(w) is not divisible by patch \(p)")
        }
        let gh = h / p, gw = w / p, n = gh * gw, kdim = c * p * p
        let cols = try patchColumns(patch: p)
        let cols2im: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void = { src, dst in
            Parallel.forEach(b) { bi in
                for gy in 0..<gh { for gx in 0..<gw {
                    let row = src + ((bi * n) + gy * gw + gx) * kdim
                    for ci in 0..<c { for py in 0..<p {
                        let s = row + (ci * p + py) * p, o = dst + ((bi * c + ci) * h + gy * p + py) * w + gx * p
                        for px in 0..<p { o[px] += s[px] }
                    } }
                } }
            }
        }
        let wflat = try weight.reshape([d, kdim])
        // Route the input gradient through cols (a leaf we own) back to the image.
        cols.requiresGrad = requiresGrad && GradMode.enabled
        let y = try cols.linear(weight: wflat, bias: bias)
        let out = try y.reshape([b, n, d])
        if cols.requiresGrad {
            // Chain: out ← y ← cols ← self. Give cols a VJP that folds its gradient into the image.
            cols.record("im2col", [self]) { [self] g in cols2im(g, self.gradBuffer()) }
        }
        out.op = "patch_embed"
        return out
    }
}
