import Foundation
import Tensor
import Models
import CKernels
import Synthesis
import Script

/// `sardfq bench gemm|ops|attention|models|synthesis|frontend|int8|all [--reps N] [--model NAME]`: the speed numbers quoted in the
/// README (`--model` restricts `models` and `synthesis` to one preset, e.g. for profiling;
/// SARDFQ_BENCH_DEBUG=1 adds the buffer cache's counters to `models`).
///
/// Every row is measured in this run; ratios compare rows of the same run. PyTorch's times come
/// from `tools/bench_pytorch.py` run just before on the same CPU (its output file), or are left out.
public enum BenchError: Error, CustomStringConvertible {
    case unknown(String)
    public var description: String {
        switch self { case .unknown(let s): return "bench: unknown benchmark '\(s)' (expected gemm, ops, attention, models, synthesis, frontend, int8 or all)" }
    }
}

/// Preset named by `--model`, or nil for every benchmarked model.
nonisolated(unsafe) var modelFilter: String? = nil

/// Median wall time of `reps` runs of `body` (after one warm-up run), in seconds.
func medianTime(_ reps: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var ts: [Double] = []
    for _ in 0..<reps { let t0 = now(); try body(); ts.append(now() - t0) }
    ts.sort()
    return ts[ts.count / 2]
}

/// Median wall times of each body, the bodies timed in turn within every rep (one warm-up
/// each), in seconds. Why interleave: on a shared machine the load drifts within a run;
/// interleaving exposes every body to the same conditions, so their ratios are far steadier
/// than back-to-back medians.
/// `settleAfter`: bodies after which to wait (untimed) before the next one. OpenBLAS's own worker
/// threads keep spinning for tens of milliseconds after a threaded call and would steal a core from
/// whatever is timed next. After the wait, the next body runs once untimed: the engine's pool
/// threads have gone to sleep by then (and the core may have clocked down), and every body should be
/// timed right after another one ran, as the others are.
func interleavedMedianTimes(_ reps: Int, _ bodies: [() throws -> Void], settleAfter: Set<Int> = []) throws -> [Double] {
    for b in bodies { try b() }
    var ts = [[Double]](repeating: [], count: bodies.count)
    for _ in 0..<reps {
        for (i, b) in bodies.enumerated() {
            let t0 = now(); try b(); ts[i].append(now() - t0)
            if settleAfter.contains(i) { usleep(200_000); try bodies[(i + 1) % bodies.count]() }
        }
    }
    return ts.map { $0.sorted()[$0.count / 2] }
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
func f1(_ v: Double) -> String { String(format: "%.1f", v) }
func f2(_ v: Double) -> String { String(format: "%.2f", v) }

public func runBench(_ args: [String]) throws {
    var which = "all", reps = 10
    var i = 0
    while i < args.count {
        if args[i] == "--reps", i + 1 < args.count, let n = Int(args[i + 1]) { reps = n; i += 2; continue }
        if args[i] == "--model", i + 1 < args.count { modelFilter = args[i + 1]; i += 2; continue }
        which = args[i]; i += 1
    }
    print("sardfq bench \(which): \(Parallel.workers) workers, OpenBLAS \(String(cString: ck_blas_config())), median of \(reps) runs")
    switch which {
    case "gemm": try benchGemm(reps: reps)
    case "ops": try benchOps(reps: reps)
    case "models": try benchModels(reps: reps)
    case "synthesis": try benchSynthesis(reps: reps)
    case "attention": try benchAttention(reps: reps)
    case "frontend": try benchFrontEnd(reps: reps)
    case "int8": try benchInt8(reps: reps)
    case "all":
        try benchGemm(reps: reps); try benchOps(reps: reps); try benchAttention(reps: reps); try benchModels(reps: max(3, reps / 2))
        try benchSynthesis(reps: max(3, reps / 2))
    default: throw BenchError.unknown(which)
    }
}

/// Runs `body` (direct OpenBLAS calls) with OpenBLAS threading over all workers itself, its
/// default, then restores the engine's single-threaded setting.
func cblasThreaded(_ body: () -> Void) {
    Parallel.useSingleThreadedBLAS()
    ck_blas_set_threads(Int32(Parallel.workers))
    body()
    ck_blas_set_threads(1)
}

/// GEMM rates through the engine (`Tensor.matmul`: one single-threaded GEMM per worker block,
/// on oneDNN and, for comparison, on OpenBLAS) next to a direct OpenBLAS call from C, threaded
/// by OpenBLAS itself, on the same operands, for DeiT-Tiny and small-model shapes at batch 32.
func benchGemm(reps: Int) throws {
    // The peak is measured here, on this core, now: a machine fact typed in would be another machine's.
    // AVX-512 where the CPU has it (the GEMM library uses it), else AVX2.
    let wide = ck_fma512_peak_gflops(0.2), isa = wide > 0 ? "AVX-512" : "AVX2"
    let perCore = wide > 0 ? wide : ck_fma_peak_gflops(0.2)
    print("\n## GEMM (GFLOP/s; \(isa)-FMA peak measured in this run ≈ \(Int(perCore)) per core × \(Parallel.workers) = \(Int(perCore * Double(Parallel.workers))); engine on \(Parallel.gemmLibrary))\n")
    print("| shape | engine | engine on OpenBLAS | OpenBLAS from C | engine / C |")
    print("|---|---:|---:|---:|---:|")
    var rng = RNG(seed: 1)
    let lib = Parallel.gemmLibrary
    func row(_ label: String, flops: Double, engine: @escaping () throws -> Void, c: @escaping () -> Void) throws {
        let t = try interleavedMedianTimes(reps, [
            { try Parallel.withGemmLibrary(lib) { try engine() } },
            { try Parallel.withGemmLibrary("OpenBLAS") { try engine() } },
            { cblasThreaded(c) },
        ], settleAfter: [2])
        print("| \(label) | \(f1(flops / t[0] / 1e9)) | \(f1(flops / t[1] / 1e9)) | \(f1(flops / t[2] / 1e9)) | \(f2(t[2] / t[0])) |")
    }
    let shapes: [(Int, Int, Int, String)] = [
        (6304, 192, 576, "DeiT-T qkv"), (6304, 192, 768, "DeiT-T fc1"), (6304, 768, 192, "DeiT-T fc2"), (2080, 96, 288, "vit-t qkv"),
    ]
    for (m, k, n, label) in shapes {
        let a = Tensor.normal([m, k], rng: &rng), b = Tensor.normal([k, n], rng: &rng)
        let c = Tensor(uninitialized: [m, n])
        try row("(\(m)×\(k))·(\(k)×\(n)) \(label)", flops: 2.0 * Double(m * n * k),
                engine: { _ = try noGrad { try Tensor.matmul(a, b) } },
                c: { ck_sgemm(0, 0, Int32(m), Int32(n), Int32(k), 1, a.ptr, Int32(k), b.ptr, Int32(n), 0, c.ptr, Int32(n)) })
    }
    // 96 attention products (batch 32 × 3 heads) of (197×64)·(64×197).
    let q = Tensor.normal([32, 3, 197, 64], rng: &rng), k = Tensor.normal([32, 3, 197, 64], rng: &rng)
    let c = Tensor(uninitialized: [32, 3, 197, 197])
    try row("96 × (197×64)·(64×197) attention (C: one call each)", flops: 2.0 * 96 * 197 * 197 * 64,
            engine: { _ = try noGrad { try Tensor.matmul(q, k, transB: true) } },
            c: { for i in 0..<96 { ck_sgemm(0, 1, 197, 197, 64, 1, q.ptr + i * 197 * 64, 64, k.ptr + i * 197 * 64, 64, 0, c.ptr + i * 197 * 197, 197) } })
}

/// Elementwise and fused ops on (32, 197, 192) with their effective memory rate
/// (bytes read + written once, per second).
func benchOps(reps: Int) throws {
    print("\n## Ops on (32, 197, 192)\n")
    print("| op | forward ms | GB/s | backward ms | GB/s |")
    print("|---|---:|---:|---:|---:|")
    var rng = RNG(seed: 2)
    let shape = [32, 197, 192]
    let n = Double(shape.reduce(1, *))
    let x = Tensor.normal(shape, rng: &rng)
    let gamma = Tensor.ones([192]), beta = Tensor.zeros([192])
    func row(_ name: String, bytesF: Double, bytesB: Double, _ f: @escaping (Tensor) throws -> Tensor) throws {
        let seed = Tensor.ones(shape)
        // Forward and forward+backward timed in turn, so the difference sees the same load.
        let t = try interleavedMedianTimes(reps, [
            { x.requiresGrad = false; _ = try noGrad { try f(x) } },
            { x.requiresGrad = true; x.zeroGrad(); try f(x).backward(seed: seed) },
        ])
        x.requiresGrad = false
        let tf = t[0], tb = t[1] - t[0]
        let gbF = bytesF > 0 ? f1(bytesF / tf / 1e9) : "–"
        // The backward is a difference of two medians: under load it can vanish into the noise.
        let resolved = tb > 0.1 * tf
        let gbB = bytesB > 0 && resolved ? f1(bytesB / tb / 1e9) : "–"
        print("| \(name) | \(f2(tf * 1e3)) | \(gbF) | \(resolved ? f2(tb * 1e3) : "below the timing noise") | \(gbB) |")
    }
    try row("layernorm", bytesF: 8 * n, bytesB: 12 * n) { try $0.layerNorm(weight: gamma, bias: beta, eps: 1e-6) }
    try row("softmax (last dim 192)", bytesF: 8 * n, bytesB: 12 * n) { try $0.softmax() }
    try row("GELU", bytesF: 8 * n, bytesB: 12 * n) { $0.gelu() }
    // Attention block: qkv, scores, softmax, context, projection (DeiT-Tiny shapes).
    let qkvW = Tensor.normal([576, 192], std: 0.02, rng: &rng), qkvB = Tensor.zeros([576])
    let projW = Tensor.normal([192, 192], std: 0.02, rng: &rng), projB = Tensor.zeros([192])
    try row("attention block, composite path (3 heads)", bytesF: 0, bytesB: 0) { x in
        // The path the quantized forward takes (hooks see Q, K, V, P); `bench attention` compares the fused op.
        let qkv = try x.linear(weight: qkvW, bias: qkvB).splitHeads(parts: 3, heads: 3)
        let (q, k, v) = (qkv[0], qkv[1], qkv[2])
        let a = try Tensor.matmul(q, k, transB: true, alpha: 0.125).softmax()
        return try Tensor.matmul(a, v).permute([0, 2, 1, 3]).reshape([32, 197, 192]).linear(weight: projW, bias: projB)
    }
}

/// The fused attention op (`Tensor.attention`) against the composite path it replaced (split heads,
/// Q·Kᵀ, softmax, ·V, merge heads), forward and forward+backward, timed in turn, on the shapes
/// that matter: a `vit-s` synthesis batch (32 images + MSR crops ≈ 112), a `swin-t` first-stage
/// block (32 images × 16 windows) and DeiT-Tiny/224.
func benchAttention(reps: Int) throws {
    print("\n## Attention: fused op vs composite path (ms)\n")
    print("| shape (items, tokens, heads, hd) | composite fwd | fused fwd | composite fwd+bwd | fused fwd+bwd | speed-up fwd / fwd+bwd |")
    print("|---|---:|---:|---:|---:|---:|")
    var rng = RNG(seed: 4)
    for (b, n, h, hd, label) in [(112, 65, 3, 32, "vit-s synthesis"), (512, 16, 2, 16, "swin-t stage 1"), (32, 197, 3, 64, "DeiT-Tiny")] {
        let qkv = Tensor.normal([b, n, 3 * h * hd], rng: &rng), scale = 1 / Float(hd).squareRoot()
        func composite() throws -> Tensor {
            let p = try qkv.splitHeads(parts: 3, heads: h)
            let a = try Tensor.matmul(p[0], p[1], transB: true, alpha: scale).softmax()
            return try Tensor.matmul(a, p[2]).permute([0, 2, 1, 3]).reshape([b, n, h * hd])
        }
        func fused() throws -> Tensor { try Tensor.attention(qkv: qkv, heads: h, scale: scale).context }
        let t = try interleavedMedianTimes(reps, [
            { qkv.requiresGrad = false; _ = try noGrad { try composite() } },
            { qkv.requiresGrad = false; _ = try noGrad { try fused() } },
            { qkv.requiresGrad = true; qkv.zeroGrad(); try composite().sum().backward() },
            { qkv.requiresGrad = true; qkv.zeroGrad(); try fused().sum().backward() },
        ])
        print("| \(label) (\(b), \(n), \(h), \(hd)) | \(f2(t[0] * 1e3)) | \(f2(t[1] * 1e3)) | \(f2(t[2] * 1e3)) | \(f2(t[3] * 1e3)) | \(f2(t[0] / t[1])) / \(f2(t[2] / t[3])) |")
    }
}

/// The CPU's model name from /proc/cpuinfo.
func cpuModelName() -> String {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let line = info.split(separator: "\n").first { $0.hasPrefix("model name") }
    return line.map { String($0.split(separator: ":", maxSplits: 1).last!).trimmingCharacters(in: .whitespaces) } ?? "unknown"
}

/// PyTorch's times from `tools/bench_pytorch.py`'s output (`$SARDFQ_PYTORCH_TIMES`, default
/// `.bench/pytorch.json`), when they were measured on this CPU within the last two hours; else
/// none, and why. → model name: (forward ms, forward+backward ms)
func pytorchTimes() -> (times: [String: (Double, Double)], note: String) {
    let path = ProcessInfo.processInfo.environment["SARDFQ_PYTORCH_TIMES"] ?? ".bench/pytorch.json"
    let how = "run `python3 tools/bench_pytorch.py --threads \(Parallel.workers)` just before for a PyTorch column"
    guard let data = FileManager.default.contents(atPath: path),
          let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return ([:], "no PyTorch times (\(path) missing); \(how)") }
    let cpu = json["cpu"] as? String ?? "?", at = json["unix_time"] as? Double ?? 0
    guard cpu == cpuModelName() else { return ([:], "PyTorch times in \(path) are from another CPU (\(cpu)); \(how)") }
    guard Date().timeIntervalSince1970 - at < 2 * 3600 else { return ([:], "PyTorch times in \(path) are older than two hours; \(how)") }
    var times: [String: (Double, Double)] = [:]
    for (name, v) in json["models"] as? [String: [String: Double]] ?? [:] {
        if let f = v["forward_ms"], let b = v["forward_backward_ms"] { times[name] = (f, b) }
    }
    let threads = json["threads"] as? Int ?? 0
    return (times, "PyTorch eager, \(threads) threads, measured on this CPU \(Int((Date().timeIntervalSince1970 - at) / 60)) min ago (\(path))")
}

/// Forward and forward+backward-to-the-input at batch 32, next to PyTorch's times measured beside it.
func benchModels(reps: Int) throws {
    let (refs, note) = pytorchTimes()
    print("\n## Models, batch 32 (ms; \(note))\n")
    print("| model | params | forward | fwd+bwd to input | PyTorch fwd / fwd+bwd | ratio fwd / fwd+bwd |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ["vit-t", "vit-s", "swin-t", "deit_tiny_patch16_224"] where modelFilter == nil || modelFilter == name {
        let preset = Presets.named(name)!
        let model: VisionModel
        switch preset.architecture {
        case .vit(let c): model = VisionTransformer(c, seed: 0)
        case .swin(let c): model = SwinTransformer(c, seed: 0)
        }
        for p in model.params.tensors { p.requiresGrad = false }
        var rng = RNG(seed: 3)
        let x = Tensor.normal([32] + preset.architecture.inputShape, rng: &rng)
        let r = name.hasPrefix("deit") ? max(2, reps / 3) : reps
        let tf = try medianTime(r) { _ = try noGrad { try model.forward(x) } }
        let tb = try medianTime(r) {
            x.requiresGrad = true; x.zeroGrad()
            try model.forward(x).sum().backward()
        }
        x.requiresGrad = false
        var ref = "–", ratio = "–"
        if let (pf, pb) = refs[name] { ref = "\(f1(pf)) / \(f1(pb))"; ratio = "\(f2(tf * 1e3 / pf)) / \(f2(tb * 1e3 / pb))" }
        if ProcessInfo.processInfo.environment["SARDFQ_BENCH_DEBUG"] != nil {
            var h = 0, m = 0, d = 0
            ck_buffer_stats(&h, &m, &d)
            print("buffer cache: \(h) hits, \(m) misses, \(d) dropped, \(ck_buffer_cached_bytes() >> 20) MiB cached")
        }
        print("| \(name) | \(String(format: "%.2fM", Double(model.parameterCount) / 1e6)) | \(f1(tf * 1e3)) | \(f1(tb * 1e3)) | \(ref) | \(ratio) |")
    }
}

/// One synthesis iteration (forward and backward to the pixels with every loss term) for 32 images,
/// next to the plain forward+backward of the same model.
func benchSynthesis(reps: Int) throws {
    print("\n## Synthesis, 32 images (ms per iteration: fastest of \(reps) rounds after 2 warm-up; overheads: median over rounds of generator / plain of the same round − 1)\n")
    print("| model | weights | fwd+bwd | PSAQ-ViT | SMI dense | SMI sparse (24 % of patches) | SARDFQ w/o MSR | SARDFQ full | PSAQ overhead | SARDFQ overhead (MSR excl.) | MSR crops extra |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ["vit-t", "vit-s", "swin-t", "deit_tiny_patch16_224"] where modelFilter == nil || modelFilter == name {
        let preset = Presets.named(name)!
        // The shipped checkpoint when there is one: trained attention changes the KDE's work.
        let shipped = ModelStore.checkpoint(for: name)
        let model = try shipped.map { try ModelFactory.load(path: $0).0 } ?? ModelFactory.build(preset.architecture, seed: 0)
        let rows = Dictionary(try Synthesis.benchmark(model: model, iterations: name.hasPrefix("deit") ? 2 : reps), uniquingKeysWith: { a, _ in a })
        func v(_ k: String) -> String { rows[k].map { f1($0) } ?? "–" }
        print("| \(name) | \(shipped == nil ? "random" : "shipped") | \(v("forward+backward ms/iter")) | \(v("psaq ms/iter")) | \(v("smi dense ms/iter")) | \(v("smi sparse ms/iter")) | \(v("sardfq without msr ms/iter")) | \(v("sardfq full ms/iter")) | \(v("psaq overhead %"))% | \(v("sardfq overhead % (msr excluded)"))% | \(v("msr crops extra ms/iter")) |")
    }
}
