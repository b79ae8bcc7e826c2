import Foundation
import Testing
import Tensor
import Models
@testable import Quantization

/// The integer path of a linear layer against its fake-quant path.
@Suite struct IntegerExecutionTests {
    /// One linear layer, input (m, k) and weight (n, k) drawn at random, quantized both ways.
    func layer(bits: Int, inputZero: Float?, m: Int = 37, k: Int = 96, n: Int = 50) throws -> (fake: Tensor, int8: Tensor, step: Float) {
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
        return (fake, int8, qa.scales[0] * (qw.scales.max() ?? 0) * Float(k))
    }

    @Test(arguments: [8, 6, 4, 3])
    func integerLinearEqualsFakeQuant(bits: Int) throws {
        let (fake, int8, _) = try layer(bits: bits, inputZero: nil)
        let scale = fake.array.map(abs).max() ?? 1
        let worst = zip(fake.array, int8.array).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "W\(bits)A\(bits): integer and fake products differ by \(worst) (values up to \(scale))")
    }

    /// A fractional input zero point (RepQ's folded z̃): still the fake-quant product, clamped
    /// elements included.
    @Test(arguments: [Float(7.4), 2.5, 0.3])
    func fractionalZeroPointIsExact(zero: Float) throws {
        let (fake, int8, _) = try layer(bits: 4, inputZero: zero)
        let scale = fake.array.map(abs).max() ?? 1
        let worst = zip(fake.array, int8.array).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * scale, "z = \(zero): \(worst) of \(scale)")
    }
}
