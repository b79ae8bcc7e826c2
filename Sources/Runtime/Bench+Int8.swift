import Foundation
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
