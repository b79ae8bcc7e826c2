import Testing
import TestSupport
@testable import Tensor

/// One differentiable op under test: how to make its inputs and how to apply it.
struct GradCase: CustomStringConvertible, @unchecked Sendable {
    let description: String
    let inputs: () -> [Tensor]
    let tol: Float
    let f: ([Tensor]) throws -> Tensor
    init(_ name: String, tol: Float = 2e-2, _ inputs: @escaping () -> [Tensor], _ f: @escaping ([Tensor]) throws -> Tensor) {
        description = name; self.inputs = inputs; self.tol = tol; self.f = f
    }
}

func pos(_ shape: [Int], seed: UInt64) -> Tensor {  // strictly positive inputs for log/sqrt/div
    var r = RNG(seed: seed)
    return Tensor.uniform(shape, low: 0.5, high: 2, rng: &r)
}

/// Every differentiable primitive and fused op of the engine.
let gradCases: [GradCase] = [
    GradCase("add broadcast", { [randn([2, 3, 4], seed: 1), randn([4], seed: 2)] }) { try $0[0] + $0[1] },
    GradCase("add general broadcast", { [randn([2, 1, 4], seed: 1), randn([3, 1], seed: 2)] }) { try $0[0] + $0[1] },
    GradCase("sub", { [randn([3, 4], seed: 3), randn([3, 1], seed: 4)] }) { try $0[0] - $0[1] },
    GradCase("mul broadcast", { [randn([2, 3, 4], seed: 5), randn([3, 4], seed: 6)] }) { try $0[0] * $0[1] },
    GradCase("div", { [randn([3, 4], seed: 7), pos([4], seed: 8)] }) { try $0[0] / $0[1] },
    GradCase("maximum", { [randn([10], seed: 9), randn([10], seed: 10)] }) { try Tensor.maximum($0[0], $0[1]) },
    GradCase("affine", { [randn([5], seed: 11)] }) { $0[0] * 3 + 1 },
    GradCase("neg", { [randn([5], seed: 12)] }) { -$0[0] },
    GradCase("exp", { [randn([6], seed: 13)] }) { $0[0].exp() },
    GradCase("log", { [pos([6], seed: 14)] }) { $0[0].log() },
    GradCase("sqrt", { [pos([6], seed: 15)] }) { $0[0].sqrt() },
    GradCase("pow 3", { [pos([6], seed: 16)] }) { $0[0].pow(3) },
    GradCase("pow 2", { [randn([6], seed: 17)] }) { $0[0].pow(2) },
    GradCase("abs", { [randn([6], seed: 18)] }) { $0[0].abs() },
    GradCase("clamp", { [t([8], [-1.3, -0.7, -0.3, -0.05, 0.1, 0.35, 0.8, 2])] }) { $0[0].clamp(-0.5, 0.5) },
    GradCase("tanh", { [randn([6], seed: 20)] }) { $0[0].tanh() },
    GradCase("sigmoid", { [randn([6], seed: 21)] }) { $0[0].sigmoid() },
    GradCase("gelu", { [randn([40], seed: 22)] }) { $0[0].gelu() },
    GradCase("relu", { [randn([20], seed: 23)] }) { $0[0].relu() },
    GradCase("reshape", { [randn([2, 6], seed: 25)] }) { try $0[0].reshape([3, 4]) * $0[0].reshape([3, 4]) },
    GradCase("permute", { [randn([2, 3, 4], seed: 26)] }) { try $0[0].permute([2, 0, 1]) },
    GradCase("transpose", { [randn([3, 5], seed: 27)] }) { try $0[0].transpose(0, 1) },
    GradCase("slice", { [randn([4, 6], seed: 28)] }) { try $0[0].slice(axis: 1, start: 1, end: 5, step: 2) },
    GradCase("gather_tokens per item", { [randn([2, 5, 3], seed: 30)] }) { try $0[0].gatherTokens([[0, 3, 4], [2, 1, 0]]) },
    GradCase("index_select repeats", { [randn([5, 3], seed: 29)] }) { try $0[0].indexSelect(axis: 0, indices: [4, 0, 4, 2]) },
    GradCase("concat", { [randn([2, 3], seed: 30), randn([2, 2], seed: 31)] }) { try Tensor.concat([$0[0], $0[1]], axis: 1) },
    GradCase("stack", { [randn([2, 3], seed: 32), randn([2, 3], seed: 33)] }) { try Tensor.stack([$0[0], $0[1]], axis: 1) },
    GradCase("pad", { [randn([2, 3, 3], seed: 34)] }) { try $0[0].pad([(1, 0), (2, 1)], value: 0.5) },
    GradCase("roll", { [randn([2, 4, 5], seed: 35)] }) { try $0[0].roll(shifts: [1, -2], axes: [1, 2]) },
    GradCase("flip", { [randn([3, 4], seed: 36)] }) { try $0[0].flip(axes: [1]) },
    GradCase("sum axes", { [randn([2, 3, 4], seed: 37)] }) { try $0[0].sum(axes: [0, 2]) },
    GradCase("mean keepdims", { [randn([2, 3, 4], seed: 38)] }) { try $0[0].mean(axes: [1], keepDims: true) },
    GradCase("max", { [randn([3, 5], seed: 39)] }) { try $0[0].max(axis: 1) },
    GradCase("variance", { [randn([3, 6], seed: 40)] }) { try $0[0].variance(axes: [1]) },
    GradCase("logsumexp", { [randn([3, 5], seed: 41)] }) { try $0[0].logsumexp(axis: 1) },
    GradCase("matmul 2-D", { [randn([3, 4], seed: 42), randn([4, 5], seed: 43)] }) { try Tensor.matmul($0[0], $0[1]) },
    GradCase("matmul shared weight", { [randn([2, 3, 4], seed: 44), randn([4, 2], seed: 45)] }) { try Tensor.matmul($0[0], $0[1]) },
    GradCase("matmul batched transB", { [randn([2, 3, 4], seed: 46), randn([2, 5, 4], seed: 47)] }) { try Tensor.matmul($0[0], $0[1], transB: true, alpha: 0.5) },
    GradCase("matmul batched transA", { [randn([2, 4, 3], seed: 48), randn([2, 4, 5], seed: 49)] }) { try Tensor.matmul($0[0], $0[1], transA: true) },
    GradCase("matmul shared transB", { [randn([2, 3, 4], seed: 50), randn([5, 4], seed: 51)] }) { try Tensor.matmul($0[0], $0[1], transB: true) },
    GradCase("linear", { [randn([2, 3, 4], seed: 52), randn([5, 4], seed: 53), randn([5], seed: 54)] }) { try $0[0].linear(weight: $0[1], bias: $0[2]) },
    GradCase("linear + residual", { [randn([2, 3, 4], seed: 52), randn([5, 4], seed: 53), randn([5], seed: 54), randn([2, 3, 5], seed: 55)] }) {
        try $0[0].linear(weight: $0[1], bias: $0[2], residual: $0[3])
    },
    GradCase("linear + GELU (fused)", { [randn([2, 3, 4], seed: 58), randn([11, 4], seed: 59), randn([11], seed: 60)] }) {
        try $0[0].linearGELU(weight: $0[1], bias: $0[2])
    },
    GradCase("permute rows + residual", { [randn([2, 3, 4], seed: 56), randn([3, 2, 4], seed: 57)] }) {
        try $0[0].permuteRows([4, 0, 5, 2, 1, 3], inverse: [1, 4, 3, 5, 0, 2], to: [3, 2, 4], residual: $0[1])
    },
    GradCase("linear + residual, no bias", { [randn([2, 3, 4], seed: 52), randn([5, 4], seed: 53), randn([2, 3, 5], seed: 55)] }) {
        try $0[0].linear(weight: $0[1], bias: nil, residual: $0[2])
    },
    GradCase("patch_embed", { [randn([2, 2, 4, 6], seed: 55), randn([3, 2, 2, 2], seed: 56), randn([3], seed: 57)] }) { try $0[0].patchEmbed(weight: $0[1], bias: $0[2]) },
    GradCase("layer_norm", { [randn([3, 6], seed: 58), randn([6], seed: 59), randn([6], seed: 60)] }) { try $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5) },
    GradCase("softmax", { [randn([3, 5], seed: 61)] }) { try $0[0].softmax() },
    GradCase("log_softmax", { [randn([3, 5], seed: 62)] }) { try $0[0].logSoftmax() },
    // Vector kernels: rows with an 8-lane body and a masked tail, and the accumulate path (the
    // input's gradient already holds the residual branch's contribution when the kernel runs).
    GradCase("softmax d = 21 + residual", { [randn([3, 21], seed: 70)] }) { try $0[0].softmax() + $0[0] },
    GradCase("gelu tail + residual", { [randn([2, 13], seed: 71)] }) { try $0[0].gelu() + $0[0] },
    GradCase("layer_norm d = 19", { [randn([4, 19], seed: 72), randn([19], seed: 73), randn([19], seed: 74)] }) {
        try $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5)
    },
    GradCase("layer_norm d = 16 + residual", { [randn([3, 16], seed: 75)] }) { try $0[0].layerNorm(weight: nil, bias: nil, eps: 1e-5) + $0[0] },
    GradCase("matmul shared transA", { [randn([3, 4, 2], seed: 76), randn([4, 5], seed: 77)] }) { try Tensor.matmul($0[0], $0[1], transA: true) },
    GradCase("split_heads (3 parts, 2 heads)", { [randn([2, 3, 12], seed: 80)] }) {
        let p = try $0[0].splitHeads(parts: 3, heads: 2)
        return try Tensor.concat([p[0] * 2, p[1], p[2] * p[2]], axis: 3)
    },
    // Fused attention: N = 5 and hd = 3 exercise the kernel's masked column tails; the second
    // case checks both outputs, the bias gradient (summed over items) and the per-window mask.
    GradCase("attention (fused) context", { [randn([2, 5, 18], seed: 81)] }) {
        try Tensor.attention(qkv: $0[0], heads: 2, scale: 0.5).context
    },
    GradCase("attention (fused) probs + context, bias, mask", { [randn([4, 5, 18], seed: 82), randn([2, 5, 5], seed: 83)] }) {
        let mask = randn([2, 5, 5], seed: 84)
        let (p, c) = try Tensor.attention(qkv: $0[0], heads: 2, scale: 0.5, bias: $0[1], mask: mask)
        return try Tensor.concat([p.reshape([4, 50]), c.reshape([4, 30]) * 0.5], axis: 1)
    },
    GradCase("linear used twice", { [randn([3, 4], seed: 78), randn([4, 4], seed: 79)] }) {
        try $0[0].linear(weight: $0[1], bias: nil).linear(weight: $0[1], bias: nil) - $0[0]
    },
    GradCase("cross_entropy", { [randn([4, 5], seed: 63)] }) { try Tensor.crossEntropy($0[0], labels: [0, 3, 4, 1]) },
    GradCase("soft_cross_entropy", { [randn([3, 4], seed: 64)] }) {
        try Tensor.softCrossEntropy($0[0], targets: t([3, 4], [0.1, 0.2, 0.3, 0.4, 1, 0, 0, 0, 0.25, 0.25, 0.25, 0.25]))
    },
    GradCase("normalize", { [randn([3, 4], seed: 65)] }) { try $0[0].normalize() },
    GradCase("cosine_similarity", { [randn([3, 4], seed: 66), randn([3, 4], seed: 67)] }) { try Tensor.cosineSimilarity($0[0], $0[1]) },
    GradCase("pairwise cosine", { [randn([2, 4, 3], seed: 68)] }) { try $0[0].pairwiseCosine() },
    GradCase("crop_resize", { [randn([2, 1, 6, 5], seed: 69)] }) {
        try $0[0].cropResize(boxes: [PixelBox(image: 0, y: 1, x: 1, h: 3, w: 2), PixelBox(image: 1, y: 0, x: 2, h: 6, w: 3)], outH: 5, outW: 4)
    },
]

@Suite("finite-difference gradient checks")
struct GradientCheckTests {
    @Test(arguments: gradCases)
    func gradient(_ c: GradCase) throws {
        let r = try GradCheck.check(c.inputs(), c.f)
        print("gradcheck \(c.description): \(r)")
        #expect(r.maxError < c.tol, "\(c.description): \(r)")
        #expect(r.checked > 0)
    }
}
