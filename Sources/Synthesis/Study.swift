import Foundation
import Tensor
import Models
import Quantization

/// The calibration-source comparison (the paper's main table at our scale): every source —
/// noise, real images, PSAQ-ViT, SARDFQ — goes through the same quantization pipeline
/// (RepQ-ViT backend, optional block reconstruction), and the quantized model is evaluated.
public enum CalibrationStudy {
    public struct Row: CustomStringConvertible {
        public let source: String
        public let seed: UInt64
        /// Top-1 of the quantized model, in percent.
        public let top1: Double
        public let synthesisSeconds: Double, quantizationSeconds: Double
        public var description: String {
            "\(source) seed \(seed): top-1 \(String(format: "%.2f", top1))% (synthesis \(String(format: "%.1f", synthesisSeconds)) s, quantization \(String(format: "%.1f", quantizationSeconds)) s)"
        }
    }

    /// Runs every (source, seed) pair.
    /// - realPool: normalized real images (N, C, H, W) (normally the training split) for `.real`.
    /// - evaluate: top-1 in percent of a model on the held-out set.
    public static func run(model: VisionModel, sources: [SynthesisMethod] = SynthesisMethod.allCases, seeds: [UInt64] = [0, 1, 2],
                           count: Int = 32, iterations: Int = 1000, weightBits: Int = 4, activationBits: Int = 4,
                           reconstruct: Bool = true, base: SynthesisOptions = SynthesisOptions(),
                           realPool: Tensor?, realLabels: [Int]? = nil,
                           evaluate: (VisionModel) throws -> Double, log: ((String) -> Void)? = nil) throws -> [Row] {
        var rows: [Row] = []
        for source in sources {
            for seed in seeds {
                var o = base
                o.method = source
                o.iterations = iterations
                o.realImages = realPool; o.realLabels = realLabels
                let t0 = now()
                let set = try Synthesis.generate(model: model, count: count, seed: seed, options: o)
                let t1 = now()
                let config = QuantConfig(weightBits: weightBits, activationBits: activationBits,
                                         reconstruction: reconstruct ? ReconstructionConfig(seed: seed) : nil)
                let q = try quantize(model, config: config, calib: set.images)
                let t2 = now()
                let top1 = try evaluate(q)
                let row = Row(source: source.rawValue, seed: seed, top1: top1, synthesisSeconds: t1 - t0, quantizationSeconds: t2 - t1)
                log?(row.description)
                rows.append(row)
            }
        }
        return rows
    }

    /// Mean ± sample standard deviation of top-1 per source, in the order first seen.
    public static func summary(_ rows: [Row]) -> [(source: String, mean: Double, std: Double, runs: Int)] {
        var order: [String] = []
        for r in rows where !order.contains(r.source) { order.append(r.source) }
        return order.map { s in
            let v = rows.filter { $0.source == s }.map(\.top1)
            let m = v.reduce(0, +) / Double(v.count)
            let sd = v.count > 1 ? (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0
            return (s, m, sd, v.count)
        }
    }
}
