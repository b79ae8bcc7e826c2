import Foundation
import Testing
import Tensor
import Models
import Datasets
@testable import Quantization

/// Whole models in integers against their fake-quant path (docs/quantization.md, "Integer
/// execution"), on every shipped model (1 024 Fashion-MNIST test images, calibrated on 32
/// training images) and on a random-weight DeiT-Tiny/224: at W4A4 every logit agrees to within
/// one quantization step at the output. At W8A8 that bound is not met (worst 1.7–2.9 steps on
/// the shipped models): the fake path rounds its float products where the integer path is exact,
/// an activation within that rounding of a level boundary lands on the other level, an 8-bit
/// grid is 16 times finer so more of them flip, and the flips add up over the blocks. The test
/// holds W8A8 to four steps and to the same top-1 on 99 % of the images.
@Suite(.serialized) struct IntegerModelTests {
    /// One quantization step at the output: how far a logit moves when every input of the head
    /// moves by one level of the head's input quantizer, Δ_in · max_j Σ_k |ŵ_jk| (ŵ the head's
    /// fake-quantized weights).
    static func outputStep(_ q: QuantizedModel, head: String) throws -> Float {
        let qa = try #require(q.hooks.quantizers[head + ".input"] as? UniformQuantizer)
        let qw = try #require(q.hooks.quantizers[head + ".weight"])
        let w = try qw.fakeQuant(q.model.params[head + ".weight"])
        let (n, k) = (w.shape[0], w.shape[1])
        let rowSums = (0..<n).map { j in (0..<k).reduce(Float(0)) { $0 + abs(w.ptr[j * k + $1]) } }
        return (qa.scales.max() ?? 0) * (rowSums.max() ?? 0)
    }

    /// The largest logit difference between the two paths, and the output step.
    static func agreement(_ model: VisionModel, head: String, bits: Int, calib: Tensor, images: Tensor) throws -> (worst: Float, step: Float, sameTop1: Double) {
        for p in model.params.tensors { p.requiresGrad = false }
        let q = try quantize(model, w: bits, a: bits, calib: calib)
        let fake = try noGrad { try q.forward(images) }
        q.hooks.execution = .int8
        let int8 = try noGrad { try q.forward(images) }
        q.hooks.execution = .fake
        let worst = zip(fake.array, int8.array).map { abs($0 - $1) }.max() ?? .infinity
        let classes = fake.shape[1], rows = fake.shape[0]
        let top = { (t: Tensor, i: Int) in (0..<classes).max { t.ptr[i * classes + $0] < t.ptr[i * classes + $1] }! }
        let same = (0..<rows).filter { top(fake, $0) == top(int8, $0) }.count
        return (worst, try outputStep(q, head: head), Double(same) / Double(rows))
    }

    /// Output steps allowed: one at ≤ 4 bits, four at more (see the suite's comment).
    static func tolerance(_ bits: Int) -> Float { bits <= 4 ? 1 : 4 }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: ["vit-t", "vit-s", "swin-t"], [8, 4])
    func shippedModelLogitsAgree(name: String, bits: Int) throws {
        let (model, _) = try ModelFactory.load(path: Self.root.appendingPathComponent("models/\(name).safetensors").path)
        let train = try FashionMNIST.load(split: .train), test = try FashionMNIST.load(split: .test)
        let calib = try train.sample(count: 32, seed: 0).images, images = try test.sample(count: 1024, seed: 1).images
        let r = try Self.agreement(model, head: name.hasPrefix("swin") ? "head.fc" : "head", bits: bits, calib: calib, images: images)
        #expect(r.worst <= Self.tolerance(bits) * r.step, "\(name) W\(bits)A\(bits): logits differ by up to \(r.worst), one output step is \(r.step)")
        #expect(r.sameTop1 >= 0.99, "\(name) W\(bits)A\(bits): top-1 agrees on \(r.sameTop1 * 100) % of 1024 images")
    }

    @Test(arguments: [8, 4])
    func randomDeiTTinyLogitsAgree(bits: Int) throws {
        let preset = try #require(Presets.named("deit_tiny_patch16_224"))
        let model = ModelFactory.build(preset.architecture, seed: 0)
        var rng = RNG(seed: 3)
        let calib = Tensor.normal([8] + preset.architecture.inputShape, rng: &rng)
        let images = Tensor.normal([8] + preset.architecture.inputShape, rng: &rng)
        let r = try Self.agreement(model, head: "head", bits: bits, calib: calib, images: images)
        #expect(r.worst <= Self.tolerance(bits) * r.step, "DeiT-Tiny/224 W\(bits)A\(bits): logits differ by up to \(r.worst), one output step is \(r.step)")
    }
}
