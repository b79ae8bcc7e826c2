import CKernels

// Elementwise ops with broadcasting. Each op's forward and vector-Jacobian product sit together.

extension Tensor {
    /// dst[i] = f(x[i'], y[i'']) over the broadcast shape `out`, where x and y have shapes xs, ys.
    @inline(__always)
    static func broadcastMap(_ out: [Int], _ x: UnsafePointer<Float>, _ xs: [Int], _ y: UnsafePointer<Float>, _ ys: [Int],
                             _ dst: UnsafeMutablePointer<Float>, _ f: (Float, Float) -> Float) {
        let n = out.reduce(1, *)
        if n == 0 { return }
        let lx = layout(xs, in: out), ly = layout(ys, in: out)
        func period(_ l: Layout) -> Int? {
            switch l { case .same: return n; case .scalar: return 1; case .suffix(let p): return p; case .general: return nil }
        }
        if let px = period(lx), let py = period(ly) {
            if px == n && py == n {
                Parallel.forRange(n) { r in for i in r { dst[i] = f(x[i], y[i]) } }
                return
            }
            // Both operands repeat with periods that divide each other (suffixes of one shape).
            let big = Swift.max(px, py), small = Swift.min(px, py)
            let xSmall = px < big, ySmall = py < big
            let blocks = n / big
            func body(_ blk: Int) {
                let base = blk * big
                var sub = 0
                while sub < big {
                    let xb = xSmall ? x : x + sub, yb = ySmall ? y : y + sub
                    let d = dst + base + sub
                    for k in 0..<small { d[k] = f(xb[k], yb[k]) }
                    sub += small
                }
            }
            if blocks > 1 && n >= 1 << 15 { Parallel.forEach(blocks, body) } else { for b in 0..<blocks { body(b) } }
            return
        }
        let ox = broadcastOffsets(xs, in: out), oy = broadcastOffsets(ys, in: out)
        for i in 0..<n { dst[i] = f(x[Int(ox[i])], y[Int(oy[i])]) }
    }

    /// Shared driver for broadcast binary ops: computes the output and records the VJP.
    /// `grads` gets (g, a, b, out) and returns full-size gradient contributions for a and b
    /// (nil when that side needs none); they are reduced to the input shapes here.
    @inline(__always)
    static func binary(_ a: Tensor, _ b: Tensor, _ name: String, _ f: (Float, Float) -> Float,
                       grads: @escaping (_ g: UnsafeMutablePointer<Float>, _ a: Tensor, _ b: Tensor, _ out: Tensor, _ wantA: Bool, _ wantB: Bool) -> (Storage?, Storage?)) throws -> Tensor {
        let shape = try broadcastShape(a.shape, b.shape, op: name)
        let out = Tensor(uninitialized: shape)
        broadcastMap(shape, a.ptr, a.shape, b.ptr, b.shape, out.ptr, f)
        return out.record(name, [a, b]) { [unowned out] g in
            let (ga, gb) = grads(g, a, b, out, a.requiresGrad, b.requiresGrad)
            if let ga { accumulateReduced(ga.ptr, out: shape, into: a) }
            if let gb { accumulateReduced(gb.ptr, out: shape, into: b) }
        }
    }

    /// g ⊙ broadcast(t) as a full-size buffer of `shape`, optionally transformed.
    static func gradTimes(_ g: UnsafeMutablePointer<Float>, _ shape: [Int], _ t: Tensor, _ f: (Float, Float) -> Float = { $0 * $1 }) -> Storage {
        let s = Storage(count: shape.reduce(1, *))
        broadcastMap(shape, g, shape, t.ptr, t.shape, s.ptr, f)
        return s
    }

    /// a + sb·b (sb = ±1): the gradient reduces straight from g, with no full-size temporary.
    static func addScaled(_ a: Tensor, _ b: Tensor, _ name: String, _ sb: Float) throws -> Tensor {
        let shape = try broadcastShape(a.shape, b.shape, op: name)
        let out = Tensor(uninitialized: shape)
        if sb == 1 { broadcastMap(shape, a.ptr, a.shape, b.ptr, b.shape, out.ptr, +) }
        else { broadcastMap(shape, a.ptr, a.shape, b.ptr, b.shape, out.ptr, -) }
        return out.record(name, [a, b]) { g in
            accumulateReduced(g, out: shape, into: a)
            accumulateReduced(g, out: shape, into: b, scale: sb)
        }
    }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try addScaled(a, b, "add", 1) }

    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try addScaled(a, b, "sub", -1) }

    public static func * (a: Tensor, b: Tensor) throws -> Tensor {
        try binary(a, b, "mul", *) { g, a, b, out, wa, wb in
            (wa ? gradTimes(g, out.shape, b) : nil, wb ? gradTimes(g, out.shape, a) : nil)
        }
    }

    public static func / (a: Tensor, b: Tensor) throws -> Tensor {
        try binary(a, b, "div", /) { g, a, b, out, wa, wb in
            let ga = wa ? gradTimes(g, out.shape, b, { $0 / $1 }) : nil
            var gb: Storage? = nil
            if wb {  // d(a/b)/db = -out/b
                let go = Storage(count: out.count)
                for i in 0..<out.count { go.ptr[i] = -g[i] * out.ptr[i] }
                gb = gradTimes(go.ptr, out.shape, b, { $0 / $1 })
            }
            return (ga, gb)
        }
    }

    /// Elementwise maximum (gradient goes to the larger input; ties to `a`).
    public static func maximum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try binary(a, b, "maximum", { Swift.max($0, $1) }) { g, a, b, out, wa, wb in
            let n = out.count
            let ma = Storage(count: n), mb = Storage(count: n)
            broadcastMap(out.shape, a.ptr, a.shape, out.ptr, out.shape, ma.ptr) { $0 == $1 ? 1 : 0 }
            for i in 0..<n { mb.ptr[i] = g[i] * (1 - ma.ptr[i]); ma.ptr[i] *= g[i] }
            return (wa ? ma : nil, wb ? mb : nil)
        }
    }

    // MARK: scalar operands

    public static func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
    public static func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s, shift: 0) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1 / s, shift: 0) }
    public static func + (s: Float, a: Tensor) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s, shift: 0) }
    public static func - (s: Float, a: Tensor) -> Tensor { a.affine(scale: -1, shift: s) }
    public static prefix func - (a: Tensor) -> Tensor { a.affine(scale: -1, shift: 0) }

    /// scale·x + shift.
    public func affine(scale: Float, shift: Float) -> Tensor {
        unary("affine", { x in
            Parallel.forRange(self.count) { r in for i in r { x.out[i] = scale * x.inp[i] + shift } }
        }, grad: { _, _ in scale })
    }

    // MARK: unary ops

    /// Pointers handed to a unary forward kernel.
    public struct UnaryIO { public let inp: UnsafeMutablePointer<Float>; public let out: UnsafeMutablePointer<Float> }

    /// Applies `forward` (which fills out from inp) and records dx = g·grad(x, y).
    @inline(__always)
    func unary(_ name: String, _ forward: (UnaryIO) -> Void, grad: @escaping (Float, Float) -> Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        forward(UnaryIO(inp: ptr, out: out.ptr))
        return out.record(name, [self]) { [unowned out, self] g in
            guard self.requiresGrad else { return }
            let (gx, acc) = self.gradDestination()
            let x = self.ptr, y = out.ptr
            Parallel.forRange(self.count) { r in
                if acc { for i in r { gx[i] += g[i] * grad(x[i], y[i]) } } else { for i in r { gx[i] = g[i] * grad(x[i], y[i]) } }
            }
        }
    }

    /// Splits a vector-math call over the workers.
    @inline(__always)
    func vmath(_ io: UnaryIO, _ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) {
        Parallel.forRange(count, grain: 1 << 15) { r in f(io.inp + r.lowerBound, io.out + r.lowerBound, r.count) }
    }

    public func exp() -> Tensor {
        unary("exp", { vmath($0) { ck_exp($0, $1, $2) } }, grad: { _, y in y })
    }
    public func log() -> Tensor {
        unary("log", { vmath($0) { ck_log($0, $1, $2) } }, grad: { x, _ in 1 / x })
    }
    public func tanh() -> Tensor {
        unary("tanh", { vmath($0) { ck_tanh($0, $1, $2) } }, grad: { _, y in 1 - y * y })
    }
    public func sqrt() -> Tensor {
        unary("sqrt", { io in Parallel.forRange(count) { r in for i in r { io.out[i] = io.inp[i].squareRoot() } } },
              grad: { _, y in 0.5 / y })
    }
    public func abs() -> Tensor {
        unary("abs", { io in Parallel.forRange(count) { r in for i in r { io.out[i] = Swift.abs(io.inp[i]) } } },
              grad: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) })
    }
    public func relu() -> Tensor {
        unary("relu", { io in Parallel.forRange(count) { r in for i in r { io.out[i] = Swift.max(io.inp[i], 0) } } },
              grad: { x, _ in x > 0 ? 1 : 0 })
    }
    /// x^p for a constant exponent.
    public func pow(_ p: Float) -> Tensor {
        if p == 2 {
            return unary("pow", { io in Parallel.forRange(count) { r in for i in r { io.out[i] = io.inp[i] * io.inp[i] } } },
                         grad: { x, _ in 2 * x })
        }
        return unary("pow", { io in
            // x^p = exp(p·log x) for x > 0; integer powers of negatives are handled exactly.
            for i in 0..<count { io.out[i] = Float(Foundation_pow(Double(io.inp[i]), Double(p))) }
        }, grad: { x, _ in p * Float(Foundation_pow(Double(x), Double(p - 1))) })
    }
    /// Clamps into [low, high]; the gradient passes where the input was inside.
    public func clamp(_ low: Float, _ high: Float) -> Tensor {
        unary("clamp", { io in Parallel.forRange(count) { r in for i in r { io.out[i] = Swift.min(Swift.max(io.inp[i], low), high) } } },
              grad: { x, _ in x >= low && x <= high ? 1 : 0 })
    }
    public func sigmoid() -> Tensor {
        unary("sigmoid", { io in
            // σ(x) = 1/(1+e^-x), with e^-x from the vector exp.
            Parallel.forRange(count, grain: 1 << 15) { r in
                for i in r { io.out[i] = -io.inp[i] }
                ck_exp(io.out + r.lowerBound, io.out + r.lowerBound, r.count)
                for i in r { io.out[i] = 1 / (1 + io.out[i]) }
            }
        }, grad: { _, y in y * (1 - y) })
    }

    /// GELU in its exact erf form, as timm's `nn.GELU()`: x·½(1 + erf(x/√2)).
    public func gelu() -> Tensor {
        let out = Tensor(uninitialized: shape)
        let x = ptr, y = out.ptr
        Parallel.forRange(count, grain: 1 << 15) { r in ck_gelu(x + r.lowerBound, y + r.lowerBound, r.count) }
        return out.record("gelu", [self]) { [self] g in
            // d/dx = Φ(x) + x·φ(x), recomputed from x in one fused pass (cheaper than storing Φ).
            guard self.requiresGrad else { return }
            let (gx, acc) = self.gradDestination()
            Parallel.forRange(self.count, grain: 1 << 15) { r in
                ck_gelu_backward(x + r.lowerBound, g + r.lowerBound, gx + r.lowerBound, r.count, acc ? 1 : 0)
            }
        }
    }

    /// Round half to even with a straight-through gradient (identity), for quantization.
    public func roundSTE() -> Tensor {
        unary("round_ste", { io in Parallel.forRange(count) { r in for i in r { io.out[i] = io.inp[i].rounded(.toNearestOrEven) } } },
              grad: { _, _ in 1 })
    }
}
