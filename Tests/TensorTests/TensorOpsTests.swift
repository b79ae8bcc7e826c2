import Testing
import Foundation
@testable import Tensor

@Suite("tensor ops: forward values, shapes, errors")
struct TensorOpsTests {
    @Test func creation() throws {
        #expect(Tensor.zeros([2, 3]).array == [0, 0, 0, 0, 0, 0])
        #expect(Tensor.full([2], 7).array == [7, 7])
        #expect(try Tensor.arange(1, 2, step: 0.25).array == [1, 1.25, 1.5, 1.75])
        #expect(throws: TensorError.self) { try Tensor(shape: [2, 2], [1, 2, 3]) }
    }

    @Test func seededGeneratorIsReproducible() {
        var a = RNG(seed: 42), b = RNG(seed: 42), c = RNG(seed: 43)
        let x = Tensor.normal([1000], rng: &a), y = Tensor.normal([1000], rng: &b), z = Tensor.normal([1000], rng: &c)
        #expect(x.array == y.array)
        #expect(x.array != z.array)
        let m = x.array.reduce(0, +) / 1000
        let v = x.array.map { ($0 - m) * ($0 - m) }.reduce(0, +) / 1000
        #expect(Swift.abs(m) < 0.1 && Swift.abs(v - 1) < 0.15)
        var u = RNG(seed: 1)
        let us = (0..<1000).map { _ in u.nextFloat() }
        #expect(us.allSatisfy { $0 >= 0 && $0 < 1 })
        // derived streams are independent of draws from the parent
        var p = RNG(seed: 5); let d1 = p.derive("priors"); _ = p.next(); let d2 = RNG(seed: 5).derive("priors")
        var e1 = d1, e2 = d2
        #expect(e1.next() == e2.next())
    }

    @Test func broadcastingArithmetic() throws {
        let a = t([2, 3], [1, 2, 3, 4, 5, 6]), b = t([3], [10, 20, 30])
        #expect(try (a + b).array == [11, 22, 33, 14, 25, 36])
        #expect(try (a * t([2, 1], [2, 3])).array == [2, 4, 6, 12, 15, 18])
        #expect(try (t([2, 1], [1, 2]) - t([1, 3], [1, 2, 3])).array == [0, -1, -2, 1, 0, -1])
        #expect((a / 2).array == [0.5, 1, 1.5, 2, 2.5, 3])
    }

    @Test func shapeMismatchNamesOpAndBothShapes() {
        do {
            _ = try t([2, 3], [1, 2, 3, 4, 5, 6]) + t([2], [1, 2])
            Issue.record("expected an error")
        } catch {
            let msg = "\(error)"
            #expect(msg.contains("add") && msg.contains("(2, 3)") && msg.contains("(2)"), "\(msg)")
        }
        do {
            _ = try Tensor.matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))
            Issue.record("expected an error")
        } catch {
            let msg = "\(error)"
            #expect(msg.contains("matmul") && msg.contains("(2, 3)") && msg.contains("(4, 5)"), "\(msg)")
        }
        #expect(throws: TensorError.self) { try Tensor.zeros([2, 3]).reshape([4]) }
    }

    @Test func unaryValues() throws {
        let x = t([4], [-2, -0.5, 0, 1.5])
        expectClose(x.exp(), t([4], [0.13533528, 0.60653066, 1, 4.481689]))
        expectClose(x.tanh(), t([4], [-0.96402758, -0.46211716, 0, 0.90514825]))
        // GELU (erf form): x·Φ(x)
        expectClose(x.gelu(), t([4], [-0.04550026, -0.15426877, 0, 1.39978225]))
        expectClose(x.sigmoid(), t([4], [0.11920292, 0.37754067, 0.5, 0.81757448]))
        #expect(x.relu().array == [0, 0, 0, 1.5])
        #expect(x.clamp(-1, 1).array == [-1, -0.5, 0, 1])
        #expect(t([4], [0.5, 1.5, 2.5, -0.5]).roundSTE().array == [0, 2, 2, -0])
        // long vectors go through the libmvec kernels with a tail
        let big = try Tensor.arange(-5, 5, step: 0.01)
        let e = big.exp()
        for i in Swift.stride(from: 0, to: big.count, by: 97) { #expect(Swift.abs(e.ptr[i] - expf(big.ptr[i])) <= 1e-6 * expf(big.ptr[i])) }
    }

    @Test func shapeOps() throws {
        let x = t([2, 3], [1, 2, 3, 4, 5, 6])
        #expect(try x.transpose(0, 1).array == [1, 4, 2, 5, 3, 6])
        #expect(try x.slice(axis: 1, start: 1).array == [2, 3, 5, 6])
        #expect(try x.slice(axis: 1, start: -1).array == [3, 6])
        #expect(try Tensor.concat([x, x], axis: 0).shape == [4, 3])
        #expect(try Tensor.stack([x, x], axis: 0).shape == [2, 2, 3])
        #expect(try x.roll(shifts: [1], axes: [1]).array == [3, 1, 2, 6, 4, 5])
        #expect(try x.flip(axes: [0]).array == [4, 5, 6, 1, 2, 3])
        #expect(try x.pad([(0, 1)], value: 9).array == [1, 2, 3, 9, 4, 5, 6, 9])
        #expect(try x.indexSelect(axis: 0, indices: [1, 1]).array == [4, 5, 6, 4, 5, 6])
        let p = try randn([2, 3, 4, 5], seed: 1).permute([2, 0, 3, 1])
        #expect(p.shape == [4, 2, 5, 3])
        #expect(try p.permute([1, 3, 0, 2]).array == randn([2, 3, 4, 5], seed: 1).array)
    }

    @Test func reductions() throws {
        let x = t([2, 3], [1, 5, 3, 4, 2, 6])
        #expect(try x.sum().item == 21)
        #expect(try x.sum(axes: [0]).array == [5, 7, 9])
        #expect(try x.mean(axes: [1]).array == [3, 4])
        #expect(try x.max(axis: 1).array == [5, 6])
        #expect(try x.argmax(axis: 1) == [1, 2])
        expectClose(try x.variance(axes: [1]), t([2], [8.0 / 3, 8.0 / 3]))
        expectClose(try x.logsumexp(axis: 1), t([2], [5.1429316, 6.1429316]))
        #expect(try t([5], [1, 2, 3, 4, 5]).quantile(0.5) == 3)
        #expect(try t([5], [1, 2, 3, 4, 5]).quantile(0.9) == 4.6)
    }

    @Test func matmulMatchesNaiveProduct() throws {
        let a = randn([3, 37, 29], seed: 3), b = randn([3, 29, 41], seed: 4)
        let c = try Tensor.matmul(a, b)
        let ref = Tensor.zeros([3, 37, 41])
        for bi in 0..<3 { for i in 0..<37 { for j in 0..<41 {
            var s: Float = 0
            for k in 0..<29 { s += a[bi, i, k] * b[bi, k, j] }
            ref.ptr[(bi * 37 + i) * 41 + j] = s
        } } }
        expectClose(c, ref, tol: 1e-5)
        let ct = try Tensor.matmul(a, try b.transpose(1, 2), transB: true)
        expectClose(ct, ref, tol: 1e-5)
    }

    /// The fused fc1 + GELU equals linear followed by GELU (row lengths with and without a tail).
    @Test func linearGELUEqualsLinearThenGELU() throws {
        for dout in [384, 13] {
            let x = randn([4, 65, 96], seed: 10), w = randn([dout, 96], seed: 11), b = randn([dout], seed: 12)
            expectClose(try x.linearGELU(weight: w, bias: b), try x.linear(weight: w, bias: b).gelu(), tol: 1e-5)
        }
    }

    /// Fused attention equals the composite (split heads, QKᵀ, bias, mask, softmax, ·V, merge) at
    /// the shipped models' sizes and DeiT-Tiny's, in both outputs and in the gradients of qkv and bias.
    @Test(arguments: [(4, 65, 3, 32, false), (64, 16, 2, 16, true), (32, 4, 8, 16, true), (2, 197, 3, 64, false), (3, 7, 3, 5, true)])
    func fusedAttentionEqualsComposite(_ b: Int, _ n: Int, _ heads: Int, _ hd: Int, _ windows: Bool) throws {
        let d = heads * hd, scale = 1 / Float(hd).squareRoot()
        let nW = windows ? (b % 4 == 0 ? 4 : 1) : 1
        func run(fused: Bool) throws -> (Tensor, Tensor, Tensor, Tensor) {
            let qkv = randn([b, n, 3 * d], seed: 31), bias = randn([heads, n, n], seed: 32) * 0.3
            qkv.requiresGrad = true; bias.requiresGrad = true
            let mask = windows ? (randn([nW, n, n], seed: 33) * 2) : nil
            let p: Tensor, ctx: Tensor
            if fused {
                (p, ctx) = try Tensor.attention(qkv: qkv, heads: heads, scale: scale, bias: windows ? bias : nil, mask: mask)
            } else {
                let parts = try qkv.splitHeads(parts: 3, heads: heads)
                var s = try Tensor.matmul(parts[0], parts[1], transB: true, alpha: scale)           // (B, H, N, N)
                if windows {
                    s = try (s.reshape([b / nW, nW, heads, n, n]) + bias + mask!.reshape([nW, 1, n, n])).reshape([b, heads, n, n])
                }
                p = try s.softmax()
                ctx = try Tensor.matmul(p, parts[2]).permute([0, 2, 1, 3]).reshape([b, n, d])
            }
            let loss = try (p * randn(p.shape, seed: 34)).sum() + (ctx * randn(ctx.shape, seed: 35)).sum()
            try loss.backward()
            return (p, ctx, qkv.grad!, windows ? bias.grad! : Tensor.zeros([1]))
        }
        let f = try run(fused: true), c = try run(fused: false)
        expectClose(f.0, c.0, tol: 1e-5); expectClose(f.1, c.1, tol: 1e-4)
        expectClose(f.2, c.2, tol: 1e-3); expectClose(f.3, c.3, tol: 1e-3)
    }

    /// A recorded forward that never sees a backward is freed with its outputs (no reference
    /// cycle through an op's own backward closure).
    @Test func recordedAttentionIsFreedWithoutBackward() throws {
        let qkv = randn([2, 5, 18], seed: 1), bias = randn([2, 5, 5], seed: 2)
        qkv.requiresGrad = true; bias.requiresGrad = true
        weak var probs: Tensor?, context: Tensor?
        do {
            let out = try Tensor.attention(qkv: qkv, heads: 2, scale: 1, bias: bias)
            probs = out.probs; context = out.context
            #expect(probs != nil && context != nil)
        }
        #expect(probs == nil && context == nil)
    }

    /// permuteRows checks that the order and its inverse are mutually inverse permutations.
    @Test func permuteRowsRejectsABadOrder() throws {
        let x = randn([6, 4], seed: 1)
        let y = try x.permuteRows([4, 0, 5, 2, 1, 3], inverse: [1, 4, 3, 5, 0, 2], to: [6, 4])
        #expect(Array(y.array[0..<4]) == Array(x.array[16..<20]))
        #expect(throws: TensorError.self) { try x.permuteRows([4, 0, 5, 2, 1, 6], inverse: [1, 4, 3, 5, 0, 2], to: [6, 4]) }
        #expect(throws: TensorError.self) { try x.permuteRows([4, 0, 5, 2, 1, 1], inverse: [1, 4, 3, 5, 0, 2], to: [6, 4]) }
        #expect(throws: TensorError.self) { try x.permuteRows([4, 0, 5, 2, 1, 3], inverse: [1, 4, 3, 5, 2, 0], to: [6, 4]) }
    }

    @Test func fusedAttentionRejectsBadShapes() throws {
        let qkv = randn([4, 5, 18], seed: 1)
        #expect(throws: TensorError.self) { try Tensor.attention(qkv: qkv, heads: 4, scale: 1) }
        #expect(throws: TensorError.self) { try Tensor.attention(qkv: qkv, heads: 2, scale: 1, bias: randn([2, 5, 4], seed: 2)) }
        #expect(throws: TensorError.self) { try Tensor.attention(qkv: qkv, heads: 2, scale: 1, mask: randn([3, 5, 5], seed: 3)) }
    }

    /// The fused residual form equals linear followed by an add, and checks the residual's shape.
    @Test func linearWithResidualEqualsLinearPlusAdd() throws {
        let x = randn([4, 65, 96], seed: 5), w = randn([96, 96], seed: 6), b = randn([96], seed: 7), r = randn([4, 65, 96], seed: 8)
        expectClose(try x.linear(weight: w, bias: b, residual: r), try r + x.linear(weight: w, bias: b), tol: 1e-5)
        expectClose(try x.linear(weight: w, bias: nil, residual: r), try r + x.linear(weight: w, bias: nil), tol: 1e-5)
        #expect(throws: TensorError.self) { try x.linear(weight: w, bias: b, residual: randn([4, 64, 96], seed: 9)) }
        do { _ = try x.linear(weight: w, bias: b, residual: randn([4, 64, 96], seed: 9)) } catch {
            #expect("\(error)".contains("(4, 64, 96)") && "\(error)".contains("(4, 65, 96)"), "\(error)")
        }
    }

    @Test func layerNormSoftmaxCrossEntropy() throws {
        let x = t([2, 4], [1, 2, 3, 4, -1, 0, 1, 10])
        let y = try x.layerNorm(weight: nil, bias: nil, eps: 0)
        #expect(try y.mean(axes: [1]).array.allSatisfy { Swift.abs($0) < 1e-6 })
        expectClose(try y.pow(2).mean(axes: [1]), t([2], [1, 1]), tol: 1e-5)
        let s = try x.softmax()
        expectClose(try s.sum(axes: [1]), t([2], [1, 1]))
        expectClose(s, t([2, 4], [0.0320586, 0.08714432, 0.23688282, 0.64391426, 1.6699e-5, 4.5392e-5, 1.23389e-4, 0.99981489]), tol: 1e-5)
        let ce = try Tensor.crossEntropy(x, labels: [3, 0])
        #expect(Swift.abs(ce.item - Float((0.44018972 + 11.000167) / 2)) < 1e-4)
        #expect(throws: TensorError.self) { try Tensor.crossEntropy(x, labels: [4, 0]) }
    }

    @Test func cropResizeMatchesPyTorchBilinear() throws {
        // F.interpolate(torch.arange(16.).view(1,1,4,4)[..., 1:3, 0:2], size=(3, 3), mode="bilinear", align_corners=False):
        // source coordinate (o + 0.5)·2/3 − 0.5 clamped at 0 → rows 0, ½, 1 of the 2×2 crop [[4, 5], [8, 9]]
        let x = try Tensor.arange(0, 16).reshape([1, 1, 4, 4])
        let y = try x.cropResize(boxes: [PixelBox(image: 0, y: 1, x: 0, h: 2, w: 2)], outH: 3, outW: 3)
        expectClose(y, t([1, 1, 3, 3], [4, 4.5, 5, 6, 6.5, 7, 8, 8.5, 9]), tol: 1e-6)
        #expect(throws: TensorError.self) { try x.cropResize(boxes: [PixelBox(image: 0, y: 3, x: 0, h: 2, w: 2)], outH: 2, outW: 2) }
    }
}

@Suite("autodiff semantics")
struct AutodiffTests {
    @Test func gradientsAccumulateAcrossBackwardCalls() throws {
        let x = Tensor([1, 2, 3], requiresGrad: true)
        try (x * x).sum().backward()
        try (x * 3).sum().backward()
        #expect(x.grad!.array == [5, 7, 9])
        x.zeroGrad()
        #expect(x.grad == nil)
    }

    @Test func detachAndNoGradRecordNothing() throws {
        let x = Tensor([1, 2], requiresGrad: true)
        let y = try x * x.detach()
        try y.sum().backward()
        #expect(x.grad!.array == [1, 2])  // only the tracked factor contributes
        let z = try noGrad { try (x * x).sum() }
        #expect(!z.requiresGrad && !z.isOnTape)
        #expect(throws: TensorError.self) { try z.backward() }
    }

    @Test func straightThroughRoundPassesGradientUnchanged() throws {
        let x = Tensor([0.2, 0.7, -1.4], requiresGrad: true)
        try (x.roundSTE() * t([3], [1, 2, 3])).sum().backward()
        #expect(x.grad!.array == [1, 2, 3])
    }

    @Test func gradientsWithRespectToInputsAndParameters() throws {
        let img = randn([2, 3], seed: 1), w = randn([4, 3], seed: 2)
        img.requiresGrad = true; w.requiresGrad = true
        try img.linear(weight: w, bias: nil).sum().backward()
        #expect(img.grad != nil && w.grad != nil)
        // d/dimg Σ img·Wᵀ = column sums of W
        let colsum = try w.sum(axes: [0])
        expectClose(img.grad!, try Tensor.stack([colsum, colsum]))
    }

    @Test func backwardNeedsScalarOrSeed() throws {
        let x = Tensor([1, 2], requiresGrad: true)
        #expect(throws: TensorError.self) { try (x * 2).backward() }
        try (x * 2).backward(seed: Tensor([1, 1]))
        #expect(x.grad!.array == [2, 2])
    }
}

@Suite("optimizers and schedules")
struct OptimizerTests {
    @Test func adamMatchesHandComputedSteps() throws {
        // Adam(lr=0.1) on loss = w² from w = 1, bias-corrected moments (computed by hand in double)
        let w = Tensor([1], requiresGrad: true)
        let opt = Adam([w], lr: 0.1)
        var values: [Float] = []
        for _ in 0..<3 {
            opt.zeroGrad()
            try (w * w).sum().backward()
            opt.step()
            values.append(w.item)
        }
        #expect(Swift.abs(values[0] - 0.9) < 1e-6)
        #expect(Swift.abs(values[1] - 0.8004122) < 1e-5)
        #expect(Swift.abs(values[2] - 0.7015863) < 1e-5)
    }

    @Test func sgdMomentum() throws {
        let w = Tensor([1], requiresGrad: true)
        let opt = SGD([w], lr: 0.1, momentum: 0.9)
        for _ in 0..<2 { opt.zeroGrad(); try (w * w).sum().backward(); opt.step() }
        // step 1: g=2, buf=2, w=0.8; step 2: g=1.6, buf=3.4, w=0.46
        #expect(Swift.abs(w.item - 0.46) < 1e-6)
    }

    @Test func warmupCosineAndRestarts() {
        #expect(Schedule.warmupCosine(step: 0, total: 500, warmup: 100, baseLR: 0.2) == 0.002)
        #expect(Swift.abs(Schedule.warmupCosine(step: 99, total: 500, warmup: 100, baseLR: 0.2) - 0.2) < 1e-6)
        #expect(Swift.abs(Schedule.warmupCosine(step: 100, total: 500, warmup: 100, baseLR: 0.2) - 0.2) < 1e-6)
        #expect(Swift.abs(Schedule.warmupCosine(step: 300, total: 500, warmup: 100, baseLR: 0.2) - 0.1) < 1e-6)
        let r = Schedule.restarts(step: 500, perRound: 500, warmup: 100, baseLR: 0.2)
        #expect(r.round == 1 && r.lr == 0.002)
    }
}
