import CKernels

/// Fused neural-network ops: forward and hand-derived backward side by side (llm.c style).
extension Tensor {
    /// LayerNorm over the last dimension, as `nn.LayerNorm(D, eps)`.
    /// - self: (…, D), weight: (D), bias: (D) → (…, D)
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float) throws -> Tensor {
        guard let d = shape.last, d > 0 else { throw TensorError.shape(op: "layer_norm", message: "empty last dimension in \(shapeString(shape))") }
        for p in [weight, bias].compactMap({ $0 }) where p.shape != [d] {
            throw TensorError.shape(op: "layer_norm", message: "parameter \(shapeString(p.shape)) vs input \(shapeString(shape)) (normalizes over \(d))")
        }
        let rows = count / d
        let out = Tensor(uninitialized: shape)
        let meanS = Storage(count: rows), rstdS = Storage(count: rows)
        let x = ptr, y = out.ptr, mu = meanS.ptr, rs = rstdS.ptr
        let wp = weight?.ptr, bp = bias?.ptr
        Parallel.forRange(rows, grain: Swift.max(1, 8192 / d)) { r in
            let o = r.lowerBound
            ck_layernorm_rows(x + o * d, y + o * d, mu + o, rs + o, wp, bp, r.count, d, eps)
        }
        let inputs = [self] + [weight, bias].compactMap { $0 }
        return out.record("layer_norm", inputs) { [self, meanS, rstdS] g in
            _ = (meanS, rstdS)  // saved statistics live as long as the closure
            // x̂ = (x−μ)·rstd;  dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = g·γ
            if self.requiresGrad {
                let (gx, acc) = self.gradDestination()
                Parallel.forRange(rows, grain: Swift.max(1, 8192 / d)) { r in
                    let o = r.lowerBound
                    ck_layernorm_backward_rows(x + o * d, g + o * d, gx + o * d, mu + o, rs + o, wp, r.count, d, acc ? 1 : 0)
                }
            }
            let gw = weight?.requiresGrad == true ? weight!.gradBuffer() : nil
            let gb = bias?.requiresGrad == true ? bias!.gradBuffer() : nil
            if gw != nil || gb != nil {
                // Split the columns over the workers (each sums its columns over every row).
                Parallel.forRange(d, grain: 64) { c in
                    ck_layernorm_param_grads(x, g, mu, rs, gw, gb, rows, d, c.lowerBound, c.upperBound)
                }
            }
        }
    }

    /// Row-wise softmax of `x` (rows of length d) into `y`, numerically stable.
    static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, d: Int) {
        Parallel.forRange(rows, grain: Swift.max(1, 16384 / Swift.max(d, 1))) { r in
            ck_softmax_rows(x + r.lowerBound * d, y + r.lowerBound * d, r.count, d)
        }
    }

    /// Softmax over the last dimension. dx = y ⊙ (g − Σ g·y).
    public func softmax() throws -> Tensor {
        guard let d = shape.last, d > 0 else { throw TensorError.shape(op: "softmax", message: "empty last dimension in \(shapeString(shape))") }
        let rows = count / d
        let out = Tensor(uninitialized: shape)
        Tensor.softmaxRows(ptr, out.ptr, rows: rows, d: d)
        return out.record("softmax", [self]) { [self, unowned out] g in
            guard self.requiresGrad else { return }
            let (gx, acc) = self.gradDestination()
            let y = out.ptr
            Parallel.forRange(rows, grain: Swift.max(1, 16384 / d)) { r in
                let o = r.lowerBound * d
                ck_softmax_backward_rows(y + o, g + o, gx + o, r.count, d, acc ? 1 : 0)
            }
        }
    }

    /// log softmax over the last dimension. dx = g − softmax·Σg.
    public func logSoftmax() throws -> Tensor {
        guard let d = shape.last, d > 0 else { throw TensorError.shape(op: "log_softmax", message: "empty last dimension in \(shapeString(shape))") }
        let rows = count / d
        let out = Tensor(uninitialized: shape)
        let lse = [Float](unsafeUninitializedCapacity: rows) { buf, n in
            for i in 0..<rows { buf[i] = Tensor.logSumExpRow(ptr + i * d, d) }
            n = rows
        }
        for i in 0..<rows { for j in 0..<d { out.ptr[i * d + j] = ptr[i * d + j] - lse[i] } }
        return out.record("log_softmax", [self]) { [self, unowned out] g in
            guard self.requiresGrad else { return }
            let gx = self.gradBuffer()
            var p = [Float](repeating: 0, count: d)
            for i in 0..<rows {
                var s: Float = 0
                for j in 0..<d { s += g[i * d + j] }
                ck_exp(out.ptr + i * d, &p, d)
                for j in 0..<d { gx[i * d + j] += g[i * d + j] - p[j] * s }
            }
        }
    }

    static func logSumExpRow(_ x: UnsafePointer<Float>, _ d: Int) -> Float {
        var m = -Float.infinity
        for j in 0..<d { m = Swift.max(m, x[j]) }
        var s: Float = 0
        for j in 0..<d { s += Foundation_expf(x[j] - m) }
        return m + Foundation_logf(s)
    }

    /// Mean cross-entropy of logits against class indices (fused with log-softmax).
    /// - logits: (B, C), labels: B indices in 0..<C → scalar
    public static func crossEntropy(_ logits: Tensor, labels: [Int]) throws -> Tensor {
        guard logits.rank == 2, logits.shape[0] == labels.count else {
            throw TensorError.shape(op: "cross_entropy", message: "logits \(shapeString(logits.shape)) (B, C) vs \(labels.count) labels")
        }
        let c = logits.shape[1]
        for l in labels where l < 0 || l >= c {
            throw TensorError.argument(op: "cross_entropy", message: "label \(l) out of range 0..<\(c)")
        }
        let targets = Tensor.zeros(logits.shape)
        for (i, l) in labels.enumerated() { targets.ptr[i * c + l] = 1 }
        let out = try softCrossEntropy(logits, targets: targets)
        out.op = "cross_entropy"
        return out
    }

    /// Mean soft cross-entropy −Σ_c T_c·log softmax(x)_c over the batch (targets get no gradient).
    /// - logits: (B, C), targets: (B, C) → scalar
    public static func softCrossEntropy(_ logits: Tensor, targets: Tensor) throws -> Tensor {
        guard logits.rank == 2, targets.shape == logits.shape else {
            throw TensorError.shape(op: "soft_cross_entropy", message: "logits \(shapeString(logits.shape)) (B, C) vs targets \(shapeString(targets.shape))")
        }
        let (b, c) = (logits.shape[0], logits.shape[1])
        let probs = Tensor(uninitialized: logits.shape)
        softmaxRows(logits.ptr, probs.ptr, rows: b, d: c)
        var loss: Double = 0
        var tsum = [Float](repeating: 0, count: b)
        for i in 0..<b {
            let lse = logSumExpRow(logits.ptr + i * c, c)
            for j in 0..<c {
                let t = targets.ptr[i * c + j]
                tsum[i] += t
                if t != 0 { loss -= Double(t * (logits.ptr[i * c + j] - lse)) }
            }
        }
        let out = Tensor(scalar: Float(loss / Double(Swift.max(b, 1))))
        return out.record("soft_cross_entropy", [logits]) { g in
            // d/dx_j = (p_j·ΣT − T_j) / B
            let gl = logits.gradBuffer(), s = g[0] / Float(Swift.max(b, 1))
            for i in 0..<b { for j in 0..<c { gl[i * c + j] += s * (probs.ptr[i * c + j] * tsum[i] - targets.ptr[i * c + j]) } }
        }
    }

    /// L2-normalizes along the last dimension: x / max(‖x‖, eps) (as `F.normalize`).
    public func normalize(eps: Float = 1e-12) throws -> Tensor {
        guard let d = shape.last, d > 0 else { throw TensorError.shape(op: "normalize", message: "empty last dimension in \(shapeString(shape))") }
        let rows = count / d
        let out = Tensor(uninitialized: shape)
        let norms = Storage(count: rows)
        let x = ptr, y = out.ptr, nr = norms.ptr
        Parallel.forRange(rows, grain: Swift.max(1, 8192 / d)) { r in
            for i in r {
                var s: Float = 0
                for j in 0..<d { s += x[i * d + j] * x[i * d + j] }
                let n = Swift.max(s.squareRoot(), eps)
                nr[i] = n
                for j in 0..<d { y[i * d + j] = x[i * d + j] / n }
            }
        }
        return out.record("normalize", [self]) { [self, unowned out, norms] g in
            _ = norms
            // For ‖x‖ > eps: dx = (g − y·(g·y)) / ‖x‖; below eps the norm is constant: dx = g/eps.
            guard self.requiresGrad else { return }
            let gx = self.gradBuffer(), y = out.ptr
            Parallel.forRange(rows, grain: Swift.max(1, 8192 / d)) { r in
                for i in r {
                    let n = nr[i]
                    if n <= eps { for j in 0..<d { gx[i * d + j] += g[i * d + j] / n }; continue }
                    var s: Float = 0
                    for j in 0..<d { s += g[i * d + j] * y[i * d + j] }
                    for j in 0..<d { gx[i * d + j] += (g[i * d + j] - y[i * d + j] * s) / n }
                }
            }
        }
    }

    /// Cosine similarity of a and b along the last dimension (broadcasting the rest),
    /// as `F.cosine_similarity(a, b, dim=-1)` with eps on each norm.
    public static func cosineSimilarity(_ a: Tensor, _ b: Tensor, eps: Float = 1e-8) throws -> Tensor {
        try (a.normalize(eps: eps) * b.normalize(eps: eps)).sum(axes: [-1])
    }

    /// Cosine similarity of every pair of rows: (…, N, D) → (…, N, N).
    public func pairwiseCosine(eps: Float = 1e-8) throws -> Tensor {
        let u = try normalize(eps: eps)
        return try Tensor.matmul(u, u, transB: true)
    }
}
