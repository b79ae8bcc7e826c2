import Foundation
import Testing
import Tensor
import Models
import Datasets
@testable import Quantization

/// The backend study on trained checkpoints. Slow and file-dependent, so it runs only when
/// `SARDFQ_QUANT_STUDY` lists checkpoints, e.g.
///   SARDFQ_QUANT_STUDY=models/vit-t.safetensors,models/swin-t.safetensors swift test … --filter QuantStudy
/// Optional: SARDFQ_QUANT_SEEDS (default 3), SARDFQ_QUANT_EVAL (test images, default all),
/// SARDFQ_QUANT_BITS (e.g. "8,4"), SARDFQ_QUANT_OUT (write the Markdown table there).
/// SARDFQ_QUANT_BACKEND ("repq" or "minmax"), SARDFQ_QUANT_SOURCES ("noise,real"), SARDFQ_QUANT_REC ("0,1": without and with reconstruction).
/// A path `random:<preset>` uses that preset with random weights (timing only).
private let env = ProcessInfo.processInfo.environment

@Suite struct QuantStudyRun {

    @Test(.enabled(if: env["SARDFQ_QUANT_STUDY"] != nil), .timeLimit(.minutes(120)))
    func backendTable() throws {
        let paths = env["SARDFQ_QUANT_STUDY"]!.split(separator: ",").map(String.init)
        let train = try FashionMNIST.load(split: .train), test = try FashionMNIST.load(split: .test)
        var o = QuantStudy.Options()
        if let s = env["SARDFQ_QUANT_SEEDS"], let n = UInt64(s) { o.seeds = Array(0..<n) }
        if let s = env["SARDFQ_QUANT_EVAL"], let n = Int(s) { o.evalLimit = n }
        if let s = env["SARDFQ_QUANT_BITS"] { o.bits = s.split(separator: ",").compactMap { Int($0) }.map { ($0, $0) } }
        if let s = env["SARDFQ_QUANT_SOURCES"] { o.sources = s.split(separator: ",").compactMap { QuantStudy.Source(rawValue: String($0)) } }
        if let s = env["SARDFQ_QUANT_BACKEND"], let b = Backend(rawValue: s) { o.backend = b }
        if let s = env["SARDFQ_QUANT_REC"] { o.reconstruct = s.split(separator: ",").map { $0 == "1" } }
        var rows: [QuantStudy.Row] = []
        for path in paths {
            // "random:vit-t" = the preset with random weights (a timing smoke run).
            let model: VisionModel, name: String
            if path.hasPrefix("random:"), let preset = Presets.named(String(path.dropFirst(7))) {
                model = ModelFactory.build(preset.architecture, seed: 0); name = path
            } else {
                model = try ModelFactory.load(path: path).0
                name = URL(fileURLWithPath: path).lastPathComponent.components(separatedBy: ".").first ?? path
            }
            rows += try QuantStudy.run(model: model, name: name, train: train, test: test, options: o) { print($0) }
            // W8A8 on 32 real images stays within one point of float.
            let fp = rows.first { $0.model == name && $0.setting == "FP" }!
            if let w8 = rows.first(where: { $0.model == name && $0.setting == "W8A8" && $0.source == .real && !$0.reconstructed }) {
                #expect(fp.mean - w8.mean < 1, "\(name): W8A8 \(w8.mean) vs FP \(fp.mean)")
            }
            // W4A4: real images beat noise; reconstruction does not make real-image results worse
            // (the difference stays within the two seed standard deviations).
            func cell(_ s: QuantStudy.Source, _ rec: Bool) -> QuantStudy.Row? {
                rows.first { $0.model == name && $0.setting == "W4A4" && $0.source == s && $0.reconstructed == rec }
            }
            if let noise = cell(.noise, false), let real = cell(.real, false) {
                #expect(real.mean > noise.mean, "\(name) W4A4: real \(real.mean) vs noise \(noise.mean)")
            }
            if let real = cell(.real, false), let rec = cell(.real, true) {
                #expect(rec.mean >= real.mean - (real.std + rec.std),
                        "\(name) W4A4 real: reconstruction \(rec.mean) ± \(rec.std) vs \(real.mean) ± \(real.std)")
            }
        }
        let table = QuantStudy.markdown(rows)
        print(table)
        if let out = env["SARDFQ_QUANT_OUT"] { try table.write(toFile: out, atomically: true, encoding: .utf8) }
    }
}

/// Timing of one float and one quantized evaluation pass (SARDFQ_QUANT_BENCH=<preset>).
@Suite struct QuantBench {
    @Test(.enabled(if: env["SARDFQ_QUANT_BENCH"] != nil))
    func evaluationCost() throws {
        let preset = Presets.named(env["SARDFQ_QUANT_BENCH"]!)!
        let model = ModelFactory.build(preset.architecture, seed: 0)
        let test = try FashionMNIST.load(split: .test).prefix(2000)
        let q = try quantize(model, w: 4, a: 4, calib: try CalibrationSource.gaussian(count: 32, for: model, seed: 0))
        var t = now()
        _ = try Evaluation.accuracy(of: model, on: test, batchSize: 250)
        let tf = now() - t
        t = now()
        _ = try Evaluation.accuracy(of: q, on: test, batchSize: 250)
        let tq = now() - t
        t = now()
        _ = try quantize(model, w: 4, a: 4, calib: try CalibrationSource.gaussian(count: 32, for: model, seed: 0))
        let tc = now() - t
        print("eval 2000 images: float \(tf) s, quantized \(tq) s; calibration \(tc) s")
    }
}

/// Fake-quantization throughput (SARDFQ_QUANT_KERNELS=1).
@Suite struct QuantKernelBench {
    @Test(.enabled(if: env["SARDFQ_QUANT_KERNELS"] != nil))
    func throughput() throws {
        var rng = RNG(seed: 0)
        let x = Tensor.normal([4_000_000], rng: &rng)
        let p = try Tensor.normal([4000, 1000], std: 3, rng: &rng).softmax()
        let u = try UniformQuantizer(bits: 4); try u.calibrate(x, site: "u")
        let c = try UniformQuantizer(bits: 4, granularity: .lastAxis); try c.calibrate(try x.reshape([-1, 64]), site: "c")
        let l = try LogQuantizer(bits: 4); try l.calibrate(p, site: "l")
        for (name, f) in [("uniform", { _ = try u.fakeQuant(x) }), ("per-channel", { _ = try c.fakeQuant(try x.reshape([-1, 64])) }),
                          ("log√2", { _ = try l.fakeQuant(p) }), ("reference x*2", { _ = x * 2 }), ("reference relu", { _ = x.relu() })] as [(String, () throws -> Void)] {
            let t = now()
            for _ in 0..<5 { try f() }
            print("\(name): \(String(format: "%.2f", (now() - t) / 5 / 4e6 * 1e9)) ns/element")
        }
        var t = now()
        try u.calibrate(x, site: "u")
        print("calibrate per tensor 4M: \(now() - t) s")
        t = now()
        try l.calibrate(p, site: "l")
        print("calibrate log 4M: \(now() - t) s")
    }
}

/// Cost of one reconstruction step on a preset (SARDFQ_QUANT_RECBENCH=<preset>).
@Suite struct ReconstructionBench {
    @Test(.enabled(if: env["SARDFQ_QUANT_RECBENCH"] != nil))
    func stepCost() throws {
        let preset = Presets.named(env["SARDFQ_QUANT_RECBENCH"]!)!
        let model = ModelFactory.build(preset.architecture, seed: 0)
        let x = try CalibrationSource.gaussian(count: 32, for: model, seed: 0)
        let q = try quantize(model, w: 4, a: 4, calib: x)
        let xin = try noGrad { try q.forward(x, capture: .blockIO, hooks: nil).blockInputs[1] }
        let target = try noGrad { try model.forwardBlock(1, xin, hooks: nil) }
        let ps = q.trainableParameters(block: 1).map { q.params[$0] }
        for p in ps { p.requiresGrad = true }
        var tf = 0.0, tb = 0.0, tq = 0.0, tfp = 0.0
        for _ in 0..<20 {
            var t = now()
            let y = try q.forwardBlock(1, xin, hooks: nil)
            let l = try (y - target).pow(2).mean()
            tf += now() - t; t = now()
            try l.backward()
            tb += now() - t; t = now()
            _ = try noGrad { try q.forwardBlock(1, xin, hooks: nil) }
            tq += now() - t; t = now()
            _ = try noGrad { try model.forwardBlock(1, xin, hooks: nil) }
            tfp += now() - t
            for p in ps { p.zeroGrad() }
        }
        print("per step (ms): forward+loss \(tf * 50), backward \(tb * 50); no-grad quantized forward \(tq * 50), float forward \(tfp * 50)")
    }
}
