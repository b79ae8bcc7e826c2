import Foundation
import Testing
import Tensor
import Models
@testable import Quantization

/// Small random-weight models and helpers shared by the quantization tests (no files needed).
enum Tiny {
    static let vit = ViTConfig(imgSize: [16, 16], patchSize: 4, inChans: 1, numClasses: 10, embedDim: 16, depth: 2, numHeads: 2)
    static let swin = SwinConfig(imgSize: [16, 16], patchSize: 2, inChans: 1, numClasses: 10, embedDim: 8, depths: [2, 2],
                                 numHeads: [1, 2], windowSize: 4)

    /// A random model whose LayerNorm affines and biases are also random (the default init has
    /// γ = 1, β = 0, zero biases, which would hide mistakes in a fold).
    static func model(_ arch: Architecture, seed: UInt64 = 1) -> VisionModel {
        let m = ModelFactory.build(arch, seed: seed)
        var rng = RNG(seed: seed).derive("perturb")
        for (name, t) in m.params.all {
            if name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name.hasSuffix("norm.weight") {
                for i in 0..<t.count { t.ptr[i] = rng.uniform(0.5, 2) }
            } else if name.hasSuffix(".bias") {
                for i in 0..<t.count { t.ptr[i] = 0.2 * rng.normal() }
            } else if name.hasSuffix("attn.qkv.weight") || name.hasSuffix("mlp.fc1.weight") || name.hasSuffix("mlp.fc2.weight") || name.hasSuffix("proj.weight") || name.hasSuffix("reduction.weight") {
                for i in 0..<t.count { t.ptr[i] *= 5 }   // std 0.1: attention that is not uniform
            }
        }
        return m
    }

    static func images(_ n: Int, seed: UInt64 = 7) -> Tensor {
        var rng = RNG(seed: seed)
        return Tensor.normal([n, 1, 16, 16], rng: &rng)
    }
}

/// max |a − b| / max |b|.
func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
    var num: Float = 0, den: Float = 0
    for i in 0..<b.count { num = max(num, abs(a.ptr[i] - b.ptr[i])); den = max(den, abs(b.ptr[i])) }
    return num / max(den, 1e-30)
}

func close(_ a: [Float], _ b: [Float], tol: Float = 1e-6) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
}
