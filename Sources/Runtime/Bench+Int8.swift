import Foundation
import CKernels
import Models
import Quantization
import Tensor

/// The CPU's integer-product features from /proc/cpuinfo: its widest vector unit and whether it
/// has VNNI (u8·s8 dot products into s32 in one instruction; without it oneDNN multiplies
/// through s16).
func cpuIntegerFeatures() -> String {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let flags = Set(info.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
    let width = flags.contains("avx512f") ? "AVX-512" : flags.contains("avx2") ? "AVX2" : "SSE"
    let vnni = flags.contains("avx512_vnni") ? "AVX-512 VNNI" : flags.contains("avx_vnni") ? "AVX-VNNI" : "no VNNI"
    return "\(width), \(vnni)"
}

/// `sardfq bench int8`: forward of a W8A8 and a W4A4 quantized model in integers and in fake
/// quantization next to the full-precision forward, batch 32 and 256, timed in turn within each
/// rep (random weights; calibrated on 32 random images).
func benchInt8(reps: Int) throws {
    benchIntegerProducts(reps: reps)
    print("\n## Integer execution (ms per forward; \(cpuModelName()): \(cpuIntegerFeatures()))\n")
    print("Linear layers, patch embedding and Q·Kᵀ in u8·s8 integer products, P·V too at ≤ 4 bits; softmax, LayerNorm and GELU in float.\n")
    print("| model | bits | batch | full precision | fake quant | int8 | int8 vs FP | int8 vs fake |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in ["vit-t", "vit-s", "swin-t", "deit_tiny_patch16_224"] where modelFilter == nil || modelFilter == name {
        let preset = Presets.named(name)!
        let model = ModelFactory.build(preset.architecture, seed: 0)
        for p in model.params.tensors { p.requiresGrad = false }
        var rng = RNG(seed: 3)
        let calib = Tensor.normal([32] + preset.architecture.inputShape, rng: &rng)
        for bits in [8, 4] {
            let fake = try quantize(model, w: bits, a: bits, calib: calib)
            let int8 = try quantize(model, w: bits, a: bits, calib: calib)
            int8.hooks.execution = .int8
            for batch in [32, 256] {
                if name.hasPrefix("deit") && batch == 256 && reps < 5 { continue }
                let x = Tensor.normal([batch] + preset.architecture.inputShape, rng: &rng)
                let r = name.hasPrefix("deit") ? max(3, reps / 3) : (batch == 256 ? max(2, reps / 2) : reps)
                let t = try interleavedMedianTimes(r, [
                    { _ = try noGrad { try model.forward(x) } },
                    { _ = try noGrad { try fake.forward(x) } },
                    { _ = try noGrad { try int8.forward(x) } },
                ])
                print("| \(name) | W\(bits)A\(bits) | \(batch) | \(f1(t[0] * 1e3)) | \(f1(t[1] * 1e3)) | \(f1(t[2] * 1e3)) | \(f2(t[0] / t[2]))× | \(f2(t[1] / t[2]))× |")
            }
        }
    }
}

/// One thread's products at the layer shapes of DeiT-Tiny, `vit-t` and `swin-t` (256 rows, a worker's
/// block): float sgemm, oneDNN's u8·s8 on levels within [−64, 63] (one product on any CPU), and
/// the s16 product that 8-bit weight levels take on a CPU without VNNI (`ck_gemm_u8s16`).
func benchIntegerProducts(reps: Int) {
    print("\n## Integer products, one thread (GOP/s; \(cpuModelName()): \(cpuIntegerFeatures()))\n")
    print("| shape | float sgemm | u8·s8, oneDNN | u8·s16, widened | widened / sgemm | widened / u8·s8 |")
    print("|---|---:|---:|---:|---:|---:|")
    var rng = RNG(seed: 2)
    for (k, n, label) in [(192, 576, "DeiT-T qkv"), (192, 768, "DeiT-T fc1"), (768, 192, "DeiT-T fc2"), (96, 288, "vit-t qkv"),
                          (32, 96, "swin-t qkv"), (128, 32, "swin-t fc2")] {
        let m = 256
        let x = Tensor.normal([m, k], rng: &rng), w = Tensor.normal([n, k], rng: &rng), y = Tensor(uninitialized: [m, n])
        let u = (0..<m * k).map { _ in UInt8(rng.int(in: 0...255)) }
        let small = (0..<n * k).map { _ in Int8(rng.int(in: -64...63)) }, full = small.map { $0 &* 2 }
        var packed = [Int16](repeating: 0, count: ck_s16_packed_count(n, k))
        ck_s16_pack(CChar(UInt8(ascii: "T")), n, k, full, k, &packed)
        var sums = [Int32](repeating: 0, count: m * n)
        ck_set_gemm_u8s8_widen(0)  // levels within [−64, 63]: oneDNN's own product
        defer { ck_set_gemm_u8s8_widen(-1) }
        let t = (try? interleavedMedianTimes(reps * 10, [
            { ck_sgemm_1t(0, 1, Int32(m), Int32(n), Int32(k), 1, x.ptr, Int32(k), w.ptr, Int32(k), 0, y.ptr, Int32(n)) },
            { _ = ck_gemm_u8s8s32(CChar(UInt8(ascii: "T")), m, n, k, u, k, small, k, &sums) },
            { _ = ck_gemm_u8s16(m, n, k, u, k, packed, &sums) },
        ])) ?? [1, 1, 1]
        let ops = 2.0 * Double(m * n * k)
        print("| (\(m)×\(k))·(\(k)×\(n)) \(label) | \(f1(ops / t[0] / 1e9)) | \(f1(ops / t[1] / 1e9)) | \(f1(ops / t[2] / 1e9)) | \(f2(t[0] / t[2])) | \(f2(t[1] / t[2])) |")
    }
}
