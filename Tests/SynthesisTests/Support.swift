import Foundation
import Testing
import Models
@testable import Synthesis
import Tensor

/// `losses.safetensors` from tools/reference_losses.py (keys in tools/README.md).
enum LossFixture {
    static let file: SafetensorsFile = {
        let url = Bundle.module.url(forResource: "Fixtures/losses", withExtension: "safetensors")!
        return try! Safetensors.read(path: url.path)
    }()
    static subscript(_ key: String) -> Tensor {
        guard let t = file[key] else { fatalError("losses.safetensors has no key \(key)") }
        return t
    }
}

/// |a − b| ≤ atol + rtol·|b| elementwise; prints both on mismatch.
func expectClose(_ a: Tensor, _ b: Tensor, atol: Float, rtol: Float, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    guard a.count == b.count else { return }
    var worst: Float = 0, at = 0
    for i in 0..<a.count {
        let excess = Swift.abs(a.ptr[i] - b.ptr[i]) - (atol + rtol * Swift.abs(b.ptr[i]))
        if !(excess <= worst) { worst = excess.isNaN ? .infinity : excess; at = i }
    }
    #expect(worst <= 0, "\(what): element \(at): \(a.ptr[at]) vs \(b.ptr[at])\n\(a.mismatchReport(b))", sourceLocation: sourceLocation)
}

/// Relative closeness of two scalars.
func expectScalar(_ a: Float, _ b: Float, rtol: Float = 1e-4, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(Swift.abs(a - b) <= rtol * Swift.max(Swift.abs(b), 1e-6), "\(what): \(a) vs \(b)", sourceLocation: sourceLocation)
}

/// Tiny models for fast end-to-end tests (random weights, seeded).
enum TinyModels {
    static func vit(seed: UInt64 = 1) -> VisionModel {
        VisionTransformer(ViTConfig(imgSize: [16, 16], patchSize: 4, inChans: 1, numClasses: 5, embedDim: 16, depth: 2,
                                    numHeads: 2, mlpRatio: 2), seed: seed)
    }
    /// Stage 0: 8×8 grid, window 4 (block 1 shifted by 2); stage 1: 4×4 grid, one window.
    static func swin(seed: UInt64 = 1) -> VisionModel {
        SwinTransformer(SwinConfig(imgSize: [16, 16], patchSize: 2, inChans: 1, numClasses: 5, embedDim: 8, depths: [2, 2],
                                   numHeads: [1, 2], windowSize: 4, mlpRatio: 2), seed: seed)
    }
    /// Random weights are too smooth to give peaked attention; scale them up so the losses move.
    static func sharpen(_ m: VisionModel, by s: Float = 4) -> VisionModel {
        for (n, t) in m.params.all where n.hasSuffix("qkv.weight") { for i in 0..<t.count { t.ptr[i] *= s } }
        for (n, t) in m.params.all where n.hasPrefix("head") && n.hasSuffix("weight") { for i in 0..<t.count { t.ptr[i] *= 50 } }
        return m
    }
}

func randn(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var r = RNG(seed: seed)
    return Tensor.normal(shape, std: std, rng: &r)
}
