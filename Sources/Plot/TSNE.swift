import Foundation
import Tensor

/// Exact t-SNE (van der Maaten & Hinton, 2008): a 2-D map of points (N, D) in which points that
/// are near in D dimensions stay near. Used for Figure 1(a), the class-token features of real and
/// synthetic images.
///
/// Exact means O(N²) time and memory per iteration (no Barnes–Hut tree): right for the few hundred
/// points of a figure (600 points × 1000 iterations take about a second). All arithmetic is in
/// double precision, serial and in a fixed order, so the same seed gives the same map bit for bit.
public struct TSNE {
    /// The effective number of neighbours each point's Gaussian covers (2^entropy of P(·|i)).
    public var perplexity: Double = 30
    /// Gradient-descent steps.
    public var iterations: Int = 1000
    /// Seed of the initial map, drawn from N(0, 1e-4²) with our `RNG`.
    public var seed: UInt64 = 0
    /// P is multiplied by this during the first `exaggerationIterations` steps, which pulls
    /// clusters apart early while the map is still plastic.
    public var earlyExaggeration: Double = 12
    /// nil: min(250, iterations / 4).
    public var exaggerationIterations: Int? = nil
    /// nil: max(N / earlyExaggeration / 4, 50), scikit-learn's "auto" rule.
    public var learningRate: Double? = nil
    /// Momentum during / after the exaggeration phase.
    public var momentum: (early: Double, late: Double) = (0.5, 0.8)

    public init(perplexity: Double = 30, iterations: Int = 1000, seed: UInt64 = 0) {
        self.perplexity = perplexity
        self.iterations = iterations
        self.seed = seed
    }

    /// The result of `embed`.
    public struct Result {
        /// The map (N, 2).
        public var embedding: Tensor
        /// KL(P ‖ Q) of the final map (without exaggeration): lower is a more faithful map.
        public var klDivergence: Double
    }

    /// Embeds the rows of `points` (N, D) in 2-D.
    ///
    /// Throws `PlotError.argument` when `points` is not a 2-D tensor with at least 3 rows, holds
    /// NaN or infinite values, or when the perplexity is not in [1, N − 1) or the iteration
    /// count is below 1.
    public func embed(_ points: Tensor) throws -> Result {
        guard points.rank == 2 else {
            throw PlotError.parameter(op: "tsne", name: "features", message: "features (N, D) expected, got shape \(shapeString(points.shape))")
        }
        let n = points.shape[0], d = points.shape[1]
        guard n >= 3, d >= 1 else {
            throw PlotError.parameter(op: "tsne", name: "features", message: "at least 3 points with 1 or more features are needed, got shape \(shapeString(points.shape))")
        }
        guard perplexity.isFinite, perplexity >= 1, perplexity < Double(n - 1) else {
            throw PlotError.parameter(op: "tsne", name: "perplexity", message: "perplexity must be at least 1 and below the number of points minus one (\(n - 1)), got \(perplexity)")
        }
        guard iterations >= 1 else { throw PlotError.parameter(op: "tsne", name: "iterations", message: "iterations must be at least 1, got \(iterations)") }
        let x = points.ptr
        for i in 0..<n * d where !x[i].isFinite {
            throw PlotError.parameter(op: "tsne", name: "features", message: "features contain \(x[i].isNaN ? "NaN" : "an infinite value") at row \(i / d), column \(i % d)")
        }

        let p = jointProbabilities(x, n: n, d: d)
        var y = [Double](repeating: 0, count: 2 * n)
        var rng = RNG(seed: seed).derive("tsne.init")
        for i in y.indices { y[i] = 1e-4 * Double(rng.normal()) }

        let exagSteps = exaggerationIterations ?? min(250, iterations / 4)
        let lr = learningRate ?? max(Double(n) / earlyExaggeration / 4, 50)
        var velocity = [Double](repeating: 0, count: 2 * n)
        var gains = [Double](repeating: 1, count: 2 * n)
        var grad = [Double](repeating: 0, count: 2 * n)
        var num = [Double](repeating: 0, count: n * n)
        for it in 0..<iterations {
            try Interruption.check("tsne")
            let exag = it < exagSteps ? earlyExaggeration : 1
            gradient(p, y, n: n, exaggeration: exag, num: &num, grad: &grad)
            let mom = it < exagSteps ? momentum.early : momentum.late
            for k in 0..<2 * n {
                // Delta-bar-delta gains: grow a step while the gradient keeps its sign.
                let sameSign = (grad[k] > 0) == (velocity[k] > 0)
                gains[k] = max(sameSign ? gains[k] * 0.8 : gains[k] + 0.2, 0.01)
                velocity[k] = mom * velocity[k] - lr * gains[k] * grad[k]
                y[k] += velocity[k]
            }
            // Keep the map centred (the cost is translation invariant).
            var mx = 0.0, my = 0.0
            for i in 0..<n { mx += y[2 * i]; my += y[2 * i + 1] }
            mx /= Double(n); my /= Double(n)
            for i in 0..<n { y[2 * i] -= mx; y[2 * i + 1] -= my }
        }
        let out = Tensor.zeros([n, 2])
        for k in 0..<2 * n { out.ptr[k] = Float(y[k]) }
        return Result(embedding: out, klDivergence: kl(p, y, n: n))
    }

    /// The symmetric joint probabilities p_ij = (p_j|i + p_i|j) / 2N.
    func jointProbabilities(_ x: UnsafeMutablePointer<Float>, n: Int, d: Int) -> [Double] {
        let cond = conditionalProbabilities(x, n: n, d: d)
        var p = [Double](repeating: 0, count: n * n)
        let scale = 1 / (2 * Double(n))
        for i in 0..<n {
            for j in 0..<n where j != i {
                p[i * n + j] = max((cond[i * n + j] + cond[j * n + i]) * scale, 1e-12)
            }
        }
        return p
    }

    /// Row i is p_j|i ∝ exp(−β_i ‖x_i − x_j‖²), with β_i found by binary search so that the row's
    /// perplexity exp(H) is `perplexity`.
    func conditionalProbabilities(_ x: UnsafeMutablePointer<Float>, n: Int, d: Int) -> [Double] {
        var dist = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in (i + 1)..<n {
                var s = 0.0
                for k in 0..<d { let t = Double(x[i * d + k]) - Double(x[j * d + k]); s += t * t }
                dist[i * n + j] = s; dist[j * n + i] = s
            }
        }
        let target = log(perplexity)  // entropy in nats
        var cond = [Double](repeating: 0, count: n * n)
        var row = [Double](repeating: 0, count: n)
        for i in 0..<n {
            // Distances are shifted by the nearest neighbour's so exp() cannot underflow to all
            // zeros for far-apart features; the shift cancels in the normalisation.
            var dmin = Double.infinity
            for j in 0..<n where j != i { dmin = min(dmin, dist[i * n + j]) }
            var beta = 1.0, lo = 0.0, hi = Double.infinity
            for _ in 0..<200 {
                var sum = 0.0, weighted = 0.0
                for j in 0..<n where j != i {
                    let dj = dist[i * n + j] - dmin
                    let e = exp(-beta * dj)
                    row[j] = e; sum += e; weighted += dj * e
                }
                row[i] = 0
                // H = log Σ e + β Σ d e / Σ e (shifted distances; the shift cancels).
                let h = log(sum) + beta * weighted / sum
                for j in 0..<n { row[j] /= sum }
                let diff = h - target
                if abs(diff) < 1e-6 { break }
                if diff > 0 {  // too flat: sharpen
                    lo = beta
                    beta = hi.isInfinite ? beta * 2 : (beta + hi) / 2
                } else {
                    hi = beta
                    beta = (beta + lo) / 2
                }
            }
            for j in 0..<n { cond[i * n + j] = row[j] }
        }
        return cond
    }

    /// ∂KL/∂y_i = 4 Σ_j (exag·p_ij − q_ij) (y_i − y_j) / (1 + ‖y_i − y_j‖²).
    func gradient(_ p: [Double], _ y: [Double], n: Int, exaggeration: Double, num: inout [Double], grad: inout [Double]) {
        var z = 0.0
        for i in 0..<n {
            num[i * n + i] = 0
            for j in (i + 1)..<n {
                let dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1]
                let v = 1 / (1 + dx * dx + dy * dy)
                num[i * n + j] = v; num[j * n + i] = v
                z += 2 * v
            }
        }
        for i in 0..<n {
            var gx = 0.0, gy = 0.0
            for j in 0..<n where j != i {
                let v = num[i * n + j]
                let m = (exaggeration * p[i * n + j] - v / z) * v
                gx += m * (y[2 * i] - y[2 * j]); gy += m * (y[2 * i + 1] - y[2 * j + 1])
            }
            grad[2 * i] = 4 * gx; grad[2 * i + 1] = 4 * gy
        }
    }

    /// KL(P ‖ Q) of the map `y`.
    func kl(_ p: [Double], _ y: [Double], n: Int) -> Double {
        var z = 0.0
        var q = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<n where j != i {
                let dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1]
                q[i * n + j] = 1 / (1 + dx * dx + dy * dy); z += q[i * n + j]
            }
        }
        var s = 0.0
        for i in 0..<n { for j in 0..<n where j != i { let pij = p[i * n + j]; s += pij * log(pij / max(q[i * n + j] / z, 1e-300)) } }
        return s
    }
}
