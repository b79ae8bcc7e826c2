import Tensor

/// Finite-difference gradient checking for any differentiable function of tensors.
///
/// The scalar checked is L = Σ f(x)·R with a fixed random R, so every output element matters.
/// L is summed in Double to keep float32 rounding out of the central difference.
public enum GradCheck {
    public struct Result: CustomStringConvertible {
        /// Largest |analytic − numeric| over all checked elements, relative to the largest gradient.
        public let maxError: Float
        public let worst: String
        public let checked: Int
        public var description: String { "max rel error \(maxError) at \(worst) over \(checked) elements" }
    }

    /// Compares the tape's gradient of `f` at `inputs` with central differences of step `h`.
    /// Checks at most `maxElements` elements per input (spread evenly) to stay fast.
    public static func check(_ inputs: [Tensor], h: Float = 1e-2, maxElements: Int = 64, seed: UInt64 = 7,
                             _ f: ([Tensor]) throws -> Tensor) throws -> Result {
        for x in inputs { x.requiresGrad = true; x.zeroGrad() }
        var rng = RNG(seed: seed)
        let out = try f(inputs)
        let r = Tensor.normal(out.shape, rng: &rng)
        try out.backward(seed: r)
        let analytic = inputs.map { $0.grad?.array ?? [Float](repeating: 0, count: $0.count) }

        func loss() throws -> Double {
            let y = try noGrad { try f(inputs) }
            var s = 0.0
            for i in 0..<y.count { s += Double(y.ptr[i]) * Double(r.ptr[i]) }
            return s
        }
        var scale: Float = 1e-3
        for a in analytic { for v in a { scale = Swift.max(scale, Swift.abs(v)) } }
        var worst: Float = 0, worstAt = "-", n = 0
        for (k, x) in inputs.enumerated() {
            let stride = Swift.max(1, x.count / maxElements)
            for i in Swift.stride(from: 0, to: x.count, by: stride) {
                let old = x.ptr[i]
                x.ptr[i] = old + h; let lp = try loss()
                x.ptr[i] = old - h; let lm = try loss()
                x.ptr[i] = old
                let numeric = Float((lp - lm) / (2 * Double(h)))
                let err = Swift.abs(numeric - analytic[k][i]) / scale
                n += 1
                if err > worst { worst = err; worstAt = "input \(k) element \(i): analytic \(analytic[k][i]), numeric \(numeric)" }
            }
        }
        for x in inputs { x.zeroGrad() }
        return Result(maxError: worst, worst: worstAt, checked: n)
    }
}
