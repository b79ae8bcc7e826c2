import Foundation
import Tensor
import Models
import Datasets

/// The backend study: top-1 of a model quantized at several bit widths, calibrated on Gaussian
/// noise or on real training images, with and without block reconstruction, over several seeds.
/// Callable from tests, recipes and the REPL (no CLI involved).
public enum QuantStudy {
    public enum Source: String, Sendable, CaseIterable { case noise, real }

    /// One cell of the table: mean ± std of top-1 over seeds, and mean times.
    public struct Row: Sendable {
        public let model: String
        /// "FP" or "W4A4".
        public let setting: String
        public let source: Source?
        public let reconstructed: Bool
        public let top1: [Double]
        public let calibrationSeconds: Double, reconstructionSeconds: Double
        public var mean: Double { top1.reduce(0, +) / Double(Swift.max(top1.count, 1)) }
        /// Sample standard deviation over seeds (0 for one seed).
        public var std: Double {
            guard top1.count > 1 else { return 0 }
            let m = mean
            return (top1.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(top1.count - 1)).squareRoot()
        }
    }

    public struct Options: Sendable {
        public var bits: [(w: Int, a: Int)] = [(8, 8), (6, 6), (4, 4), (3, 3)]
        public var sources: [Source] = [.noise, .real]
        public var reconstruct: [Bool] = [false, true]
        public var seeds: [UInt64] = [0, 1, 2]
        public var calibrationImages = 32
        public var backend: Backend = .repq
        public var reconstruction = ReconstructionConfig()
        /// Evaluate on the first `evalLimit` test images only (nil = all).
        public var evalLimit: Int? = nil
        public var batchSize = 250
        public init() {}
    }

    /// Runs the grid for one model. Seeds change the calibration draw (which noise, which real
    /// images) and the reconstruction's batch order. `log` receives one line per cell.
    public static func run(model: VisionModel, name: String, train: ImageDataset, test: ImageDataset,
                           options o: Options = Options(), log: ((String) -> Void)? = nil) throws -> [Row] {
        var rows: [Row] = []
        let fp = try Evaluation.accuracy(of: model, on: test, batchSize: o.batchSize, limit: o.evalLimit)
        rows.append(Row(model: name, setting: "FP", source: nil, reconstructed: false, top1: [fp.top1], calibrationSeconds: 0, reconstructionSeconds: 0))
        log?("\(name) FP: \(fp)")
        for (w, a) in o.bits {
            for source in o.sources {
                for rec in o.reconstruct {
                    var accs: [Double] = [], tc = 0.0, tr = 0.0
                    for seed in o.seeds {
                        let calib = source == .noise
                            ? try CalibrationSource.gaussian(count: o.calibrationImages, for: model, seed: seed)
                            : try CalibrationSource.real(train, count: o.calibrationImages, seed: seed)
                        var cfg = QuantConfig(weightBits: w, activationBits: a, backend: o.backend)
                        if rec { var r = o.reconstruction; r.seed = seed; cfg.reconstruction = r }
                        let q = try quantize(model, config: cfg, calib: calib)
                        let acc = try Evaluation.accuracy(of: q, on: test, batchSize: o.batchSize, limit: o.evalLimit)
                        accs.append(acc.top1); tc += q.calibrationSeconds; tr += q.reconstructionSeconds
                    }
                    let n = Double(o.seeds.count)
                    let row = Row(model: name, setting: "W\(w)A\(a)", source: source, reconstructed: rec, top1: accs,
                                  calibrationSeconds: tc / n, reconstructionSeconds: tr / n)
                    rows.append(row)
                    log?("\(name) \(row.setting) \(source.rawValue)\(rec ? " +rec" : ""): " + String(format: "%.2f ± %.2f", row.mean, row.std)
                         + " (\(accs.map { String(format: "%.2f", $0) }.joined(separator: ", ")); calib \(String(format: "%.2f", row.calibrationSeconds)) s, rec \(String(format: "%.1f", row.reconstructionSeconds)) s)")
                }
            }
        }
        return rows
    }

    /// A Markdown table: model, setting, source, reconstruction, top-1 mean ± std (n seeds), times.
    public static func markdown(_ rows: [Row]) -> String {
        var lines = ["| model | setting | calibration | reconstruction | top-1 (%) | seeds | calib. time (s) | rec. time (s) |",
                     "|---|---|---|---|---|---|---|---|"]
        for r in rows {
            let acc = r.top1.count > 1 ? String(format: "%.2f ± %.2f", r.mean, r.std) : String(format: "%.2f", r.mean)
            lines.append("| \(r.model) | \(r.setting) | \(r.source?.rawValue ?? "–") | \(r.setting == "FP" ? "–" : (r.reconstructed ? "yes" : "no")) | \(acc) | \(r.top1.count) | "
                         + (r.setting == "FP" ? "– | – |" : String(format: "%.2f | %.1f |", r.calibrationSeconds, r.reconstructionSeconds)))
        }
        return lines.joined(separator: "\n")
    }
}
