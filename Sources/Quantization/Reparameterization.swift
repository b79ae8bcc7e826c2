import Tensor
import Models

/// RepQ-ViT's scale reparameterization of a post-LayerNorm activation (METHOD §4).
///
/// Given the per-channel quantizer (s, z) of the input of `linear`, which is the output of
/// LayerNorm `norm`: s̃ = mean(s), z̃ = mean(z), r = s/s̃, b = (−z·s)/r − (−z̃·s̃). Then
/// γ ← γ/r, β ← β/r − b, W[:, c] ← W[:, c]·r_c, bias ← bias + W_new·b. The linear's output is
/// unchanged in exact arithmetic, and the folded activation y/r − b has channel c's range
/// mapped onto one common per-tensor grid (s̃, z̃).
public enum RepQFold {
    /// What one fold did (for reports).
    public struct Record: Sendable {
        public let norm: String, linear: String
        public let channels: Int
        /// The per-tensor parameters that replace the per-channel ones.
        public let scale: Float, zeroPoint: Float
        /// Range of r = s/s̃ over channels.
        public let ratioRange: ClosedRange<Float>
    }

    /// Folds in place into `params` and returns the per-tensor (s̃, z̃). A linear without a bias
    /// (Swin's reduction) gets one. [decision] z̃ stays fractional, as in RepQ-ViT's code.
    @discardableResult
    public static func fold(_ params: Parameters, norm: String, linear: String,
                            scales s: [Float], zeroPoints z: [Float]) throws -> Record {
        guard let gamma = params.get(norm + ".weight"), let beta = params.get(norm + ".bias") else {
            throw QuantError.argument("RepQ fold: no LayerNorm '\(norm)' (weight and bias) in the model")
        }
        guard let w = params.get(linear + ".weight"), w.rank == 2 else {
            throw QuantError.argument("RepQ fold: no linear weight '\(linear).weight' of rank 2 in the model")
        }
        let c = s.count, out = w.shape[0]
        guard c == z.count, c == w.shape[1], c == gamma.count, c == beta.count else {
            throw QuantError.argument("RepQ fold \(norm) → \(linear): \(c) channel scales for a LayerNorm of \(gamma.count) and a weight \(shapeString(w.shape))")
        }
        let sMean = s.reduce(0, +) / Float(c), zMean = z.reduce(0, +) / Float(c)
        let r = s.map { $0 / sMean }
        let b = (0..<c).map { (-z[$0] * s[$0]) / r[$0] - (-zMean * sMean) }
        let bias: Tensor
        if let existing = params.get(linear + ".bias") { bias = existing } else { bias = params.add(linear + ".bias", Tensor.zeros([out])) }
        noGrad {
            for k in 0..<c {
                gamma.ptr[k] /= r[k]
                beta.ptr[k] = beta.ptr[k] / r[k] - b[k]
            }
            for o in 0..<out {
                let row = w.ptr + o * c
                var acc: Float = 0
                for k in 0..<c { row[k] *= r[k]; acc += row[k] * b[k] }
                bias.ptr[o] += acc
            }
        }
        return Record(norm: norm, linear: linear, channels: c, scale: sMean, zeroPoint: zMean,
                      ratioRange: (r.min() ?? 1)...(r.max() ?? 1))
    }
}
