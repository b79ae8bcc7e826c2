import Foundation
import Testing
import Datasets
import Models
import Quantization
@testable import Synthesis
import Tensor

/// The W4A4 calibration-source comparison on a trained checkpoint. Not part of the normal suite
/// (minutes of work): run it with
///
///     SARDFQ_EXPERIMENT=1 SARDFQ_CKPT=/tmp/train/vit-t.ckpt.safetensors SARDFQ_ITERS=200 SARDFQ_SEEDS=0 \
///     OPENBLAS_NUM_THREADS=1 SARDFQ_THREADS=1 swift test -c release --filter w4a4CalibrationStudy
///
/// Optional: SARDFQ_EVAL_LIMIT (test images, default all 10000), SARDFQ_RECON=0 (no reconstruction),
/// SARDFQ_ALPHA1, SARDFQ_TAU_SCALING (sqrt_pixels | pixels), SARDFQ_APA/MSR/SL=0, SARDFQ_SOURCES (e.g. psaq,sardfq).
@Test(.enabled(if: ProcessInfo.processInfo.environment["SARDFQ_EXPERIMENT"] != nil))
func w4a4CalibrationStudy() throws {
    let env = ProcessInfo.processInfo.environment
    let src = env["SARDFQ_CKPT"] ?? "/tmp/train/vit-t.ckpt.safetensors"
    // The trainer rewrites the checkpoint every epoch: read a private copy.
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("study-\(UUID().uuidString).safetensors").path
    try FileManager.default.copyItem(atPath: src, toPath: copy)
    defer { try? FileManager.default.removeItem(atPath: copy) }
    let (model, meta) = try ModelFactory.load(path: copy)
    let test = try FashionMNIST.load(split: .test)
    let limit = env["SARDFQ_EVAL_LIMIT"].flatMap(Int.init)
    let pool = try FashionMNIST.load(split: .train).sample(count: 5000, seed: 123)
    let iters = env["SARDFQ_ITERS"].flatMap(Int.init) ?? 200
    let seeds = (env["SARDFQ_SEEDS"] ?? "0").split(separator: ",").compactMap { UInt64(String($0)) }
    var base = SynthesisOptions()
    if let a = env["SARDFQ_ALPHA1"].flatMap(Float.init) { base.alpha1 = a }
    if let t = env["SARDFQ_TAU_SCALING"].flatMap(TauScaling.init(rawValue:)) { base.tauScaling = t }
    if env["SARDFQ_MSR"] == "0" { base.msr = false }
    if env["SARDFQ_APA"] == "0" { base.apa = false }
    if env["SARDFQ_SL"] == "0" { base.softLabels = false }
    let evaluate = { (m: VisionModel) throws -> Double in try Evaluation.accuracy(of: m, on: test, batchSize: 500, limit: limit).top1 }
    let fp = try evaluate(model)
    print("checkpoint \(src) epoch \(meta["sardfq.epoch"] ?? "?"): FP top-1 \(String(format: "%.2f", fp))% on \(limit ?? test.count) test images")
    let sources = (env["SARDFQ_SOURCES"] ?? "noise,real,psaq,sardfq").split(separator: ",").compactMap { SynthesisMethod(rawValue: String($0)) }
    let rows = try CalibrationStudy.run(model: model, sources: sources, seeds: seeds, count: 32, iterations: iters,
                                        reconstruct: env["SARDFQ_RECON"] != "0", base: base,
                                        realPool: pool.images, realLabels: pool.labels, evaluate: evaluate,
                                        log: { print($0) })
    print("| source | W4A4 top-1 (%) | runs |\n|---|---|---|")
    for s in CalibrationStudy.summary(rows) {
        print("| \(s.source) | \(String(format: "%.2f", s.mean)) ± \(String(format: "%.2f", s.std)) | \(s.runs) |")
    }
    #expect(rows.count == sources.count * seeds.count)
    #expect(rows.allSatisfy { $0.top1 >= 0 && $0.top1 <= 100 })
}

/// `Synthesis.benchmark` on a trained checkpoint (what `sardfq bench synthesis` prints):
///
///     SARDFQ_BENCH=1 SARDFQ_CKPT=/tmp/train/vit-t.ckpt.safetensors OPENBLAS_NUM_THREADS=1 SARDFQ_THREADS=1 \
///     swift test -c release --filter synthesisBenchmark
@Test(.enabled(if: ProcessInfo.processInfo.environment["SARDFQ_BENCH"] != nil))
func synthesisBenchmark() throws {
    let env = ProcessInfo.processInfo.environment
    for src in (env["SARDFQ_CKPT"] ?? "/tmp/train/vit-t.ckpt.safetensors").split(separator: ",").map(String.init) {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).safetensors").path
        try FileManager.default.copyItem(atPath: src, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let (model, _) = try ModelFactory.load(path: copy)
        let rows = try Synthesis.benchmark(model: model, count: 32, iterations: env["SARDFQ_BENCH_ITERS"].flatMap(Int.init) ?? 8)
        print("\(src): " + rows.map { "\($0.0) \(String(format: "%.1f", $0.1))" }.joined(separator: " | "))
        #expect(rows.allSatisfy { $0.1.isFinite })
    }
}
