import Foundation
import Testing
import Tensor
import Models
import CKernels
@testable import Quantization

/// The integer path of a linear layer against its fake-quant path.
@Suite struct IntegerExecutionTests {
    /// One linear layer, input (m, k) and weight (n, k) drawn at random, quantized both ways (and
    /// the hooks that hold its integer weights).
    func layer(bits: Int, inputZero: Float?, m: Int = 37, k: Int = 96, n: Int = 50) throws -> (fake: Tensor, int8: Tensor, step: Float, hooks: QuantHooks) {
        var rng = RNG(seed: UInt64(bits * 10 + (inputZero == nil ? 0 : 1)))
        let x = Tensor.normal([m, k], std: 1, rng: &rng), w = Tensor.normal([n, k], std: 0.1, rng: &rng)
        let bias = Tensor.normal([n], std: 0.1, rng: &rng)
        let hooks = QuantHooks(config: QuantConfig(weightBits: bits, activationBits: bits))
        hooks.mode = .calibrate
        _ = try noGrad { try hooks.input("l", x).linear(weight: hooks.weight("l", w), bias: bias) }
        let qa = try #require(hooks.quantizers["l.input"] as? UniformQuantizer)
        if let z = inputZero { try qa.set(scales: qa.scales, zeroPoints: [z]) }  // e.g. RepQ's fractional z̃
        hooks.mode = .quantize
        let fake = try noGrad { try hooks.input("l", x).linear(weight: hooks.weight("l", w), bias: bias) }
        hooks.execution = .int8
        let int8 = try #require(try noGrad { try hooks.integerLinear("l", x, weight: w, bias: bias, residual: nil, gelu: false) }, "the layer takes the integer path")
        let qw = try #require(hooks.quantizers["l.weight"] as? UniformQuantizer)
        // One output step: one input level times the largest weight row's absolute sum of levels.
        return (fake, int8, qa.scales[0] * (qw.scales.max() ?? 0) * Float(k), hooks)
    }

    @Test(arguments: [8, 6, 4, 3])
    func integerLinearEqualsFakeQuant(bits: Int) throws {
        let (fake, int8, _, _) = try layer(bits: bits, inputZero: nil)
        let scale = fake.array.map(abs).max() ?? 1
        let worst = zip(fake.array, int8.array).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "W\(bits)A\(bits): integer and fake products differ by \(worst) (values up to \(scale))")
    }

    /// A layer whose 8-bit weight levels are widened to s16 once, when its integer weights are
    /// made, as on a CPU without VNNI (forced here): the kept copy is used, and the product is unchanged.
    @Test func widenedWeightsGiveTheSameProduct() throws {
        ck_set_gemm_u8s8_widen(1)
        defer { ck_set_gemm_u8s8_widen(-1) }
        let (fake, int8, _, hooks) = try layer(bits: 8, inputZero: nil)
        let kept = try #require(hooks.integerCache["l"] ?? nil)
        let widened = try #require(kept.widened, "8-bit levels reach ±128, so they are widened")
        // Panels of 24 columns with k in pairs: level (j, p) sits at ((j / 24 · pairs + p / 2) · 24 + j % 24) · 2 + p % 2.
        let (n, k) = (kept.n, kept.k), pairs = (k + 1) / 2
        #expect((0..<n).allSatisfy { j in (0..<k).allSatisfy { p in
            Int(widened[((j / 24 * pairs + p / 2) * 24 + j % 24) * 2 + p % 2]) == Int(kept.levels[j * k + p]) } })
        let scale = fake.array.map(abs).max() ?? 1
        let worst = zip(fake.array, int8.array).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "widened weights: integer and fake products differ by \(worst) (values up to \(scale))")
    }

    /// The u8·s8 product with 8-bit levels, as it runs on a CPU without VNNI (widened to s16) and
    /// as this CPU runs it, against exact integer sums, for shapes on and off the kernel's blocks
    /// (rows by 3, columns by 24 with narrower last panels, k by 2).
    @Test(arguments: [Int32(1), -1], [(19, 23, 300), (3, 24, 2), (1, 1, 1), (50, 49, 97), (5, 40, 33), (7, 100, 3001), (2, 3, 0)])
    func u8s8ProductIsExact(widen: Int32, shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        var rng = RNG(seed: 5)
        let a = (0..<m * k).map { _ in UInt8(rng.int(in: 0...255)) }
        let b = (0..<n * k).map { _ in Int8(rng.int(in: -128...127)) }  // (n, k): the extremes saturate s16 pairs
        var want = [Int32](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { want[i * n + j] += Int32(a[i * k + p]) * Int32(b[j * k + p]) } } }
        var bN = [Int8](repeating: 0, count: k * n)  // the same matrix as (k, n)
        for j in 0..<n { for p in 0..<k { bN[p * n + j] = b[j * k + p] } }
        ck_set_gemm_u8s8_widen(widen)
        defer { ck_set_gemm_u8s8_widen(-1) }
        var gotT = [Int32](repeating: 0, count: m * n), gotN = gotT
        #expect(ck_gemm_u8s8s32(CChar(UInt8(ascii: "T")), m, n, k, a, k, b, k, &gotT) == 0)
        #expect(ck_gemm_u8s8s32(CChar(UInt8(ascii: "N")), m, n, k, a, k, bN, n, &gotN) == 0)
        #expect(gotT == want, "widen \(widen), \(shape), b as (n, k): \(zip(gotT, want).filter { $0 != $1 }.count) sums differ")
        #expect(gotN == want, "widen \(widen), \(shape), b as (k, n): \(zip(gotN, want).filter { $0 != $1 }.count) sums differ")
    }

    /// A fractional input zero point (RepQ's folded z̃): still the fake-quant product, clamped
    /// elements included.
    @Test(arguments: [Float(7.4), 2.5, 0.3])
    func fractionalZeroPointIsExact(zero: Float) throws {
        let (fake, int8, _, _) = try layer(bits: 4, inputZero: zero)
        let scale = fake.array.map(abs).max() ?? 1
        let worst = zip(fake.array, int8.array).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "z = \(zero): \(worst) of \(scale)")
    }
}
