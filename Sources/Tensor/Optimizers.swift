/// Optimizers that update parameter tensors in place from their accumulated gradients.
public protocol Optimizer: AnyObject {
    var params: [Tensor] { get }
    var lr: Float { get set }
    /// Applies one update from the current gradients (parameters without a gradient are skipped).
    func step()
}

extension Optimizer {
    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in params { p.zeroGrad() } }
}

/// Adam (Kingma & Ba) with optional decoupled weight decay (AdamW when `decoupled`),
/// bias-corrected, matching `torch.optim.Adam`/`AdamW`.
public final class Adam: Optimizer {
    public let params: [Tensor]
    public var lr: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float, decoupled: Bool
    public private(set) var stepCount = 0
    var m: [Storage], v: [Storage]

    public init(_ params: [Tensor], lr: Float, betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8,
                weightDecay: Float = 0, decoupled: Bool = false) {
        self.params = params; self.lr = lr
        beta1 = betas.0; beta2 = betas.1; self.eps = eps; self.weightDecay = weightDecay; self.decoupled = decoupled
        m = params.map { Storage(zeros: $0.count) }
        v = params.map { Storage(zeros: $0.count) }
    }

    public func step() {
        stepCount += 1
        let bc1 = 1 - Float(Foundation_pow(Double(beta1), Double(stepCount)))
        let bc2 = 1 - Float(Foundation_pow(Double(beta2), Double(stepCount)))
        let (b1, b2, eps, wd, lr, dec) = (beta1, beta2, eps, weightDecay, lr, decoupled)
        for (k, p) in params.enumerated() {
            guard let gs = p.gradStorage else { continue }
            let g = gs.ptr, w = p.ptr, mk = m[k].ptr, vk = v[k].ptr
            Parallel.forRange(p.count, grain: 1 << 15) { r in
                for i in r {
                    var gi = g[i]
                    if wd != 0 { if dec { w[i] -= lr * wd * w[i] } else { gi += wd * w[i] } }
                    mk[i] = b1 * mk[i] + (1 - b1) * gi
                    vk[i] = b2 * vk[i] + (1 - b2) * gi * gi
                    let mh = mk[i] / bc1
                    let vh = vk[i] / bc2
                    w[i] -= lr * mh / (vh.squareRoot() + eps)
                }
            }
        }
    }

    /// Optimizer state for checkpoints: first and second moments per parameter.
    public var state: (step: Int, m: [Tensor], v: [Tensor]) {
        (stepCount, zip(params, m).map { Tensor(shape: $0.shape, storage: $1) }, zip(params, v).map { Tensor(shape: $0.shape, storage: $1) })
    }

    public func restore(step: Int, m ms: [Tensor], v vs: [Tensor]) throws {
        guard ms.count == params.count, vs.count == params.count else {
            throw TensorError.argument(op: "adam.restore", message: "state has \(ms.count) moments for \(params.count) parameters")
        }
        for k in 0..<params.count {
            guard ms[k].count == params[k].count, vs[k].count == params[k].count else {
                throw TensorError.shape(op: "adam.restore", message: "moment \(k) \(shapeString(ms[k].shape)) vs parameter \(shapeString(params[k].shape))")
            }
            m[k].ptr.update(from: ms[k].ptr, count: ms[k].count)
            v[k].ptr.update(from: vs[k].ptr, count: vs[k].count)
        }
        stepCount = step
    }
}

/// SGD with momentum (and optional Nesterov, weight decay), as `torch.optim.SGD`.
public final class SGD: Optimizer {
    public let params: [Tensor]
    public var lr: Float
    public let momentum: Float, weightDecay: Float, nesterov: Bool
    var buf: [Storage?]

    public init(_ params: [Tensor], lr: Float, momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
        self.params = params; self.lr = lr; self.momentum = momentum; self.weightDecay = weightDecay; self.nesterov = nesterov
        buf = Array(repeating: nil, count: params.count)
    }

    public func step() {
        for (k, p) in params.enumerated() {
            guard let gs = p.gradStorage else { continue }
            let g = gs.ptr, w = p.ptr
            if momentum != 0 && buf[k] == nil {
                let b = Storage(count: p.count)
                for i in 0..<p.count { b.ptr[i] = g[i] + weightDecay * w[i] }
                buf[k] = b
                for i in 0..<p.count { w[i] -= lr * b.ptr[i] }  // first step: buf = g
                continue
            }
            for i in 0..<p.count {
                var d = g[i] + weightDecay * w[i]
                if momentum != 0, let b = buf[k]?.ptr {
                    b[i] = momentum * b[i] + d
                    d = nesterov ? d + momentum * b[i] : b[i]
                }
                w[i] -= lr * d
            }
        }
    }
}

/// Learning-rate schedules as functions of the step (0-based).
public enum Schedule {
    /// Linear warm-up from 0 over `warmup` steps, then cosine decay to `minLR` at `total`.
    /// Matches PSAQ-ViT's `lr_policy` (warm-up: lr·(t+1)/warmup; cosine on the remaining steps).
    public static func warmupCosine(step t: Int, total: Int, warmup: Int, baseLR: Float, minLR: Float = 0) -> Float {
        if t < warmup { return baseLR * Float(t + 1) / Float(warmup) }
        let e = Double(t - warmup), es = Double(Swift.max(total - warmup, 1))
        return minLR + 0.5 * (1 + Float(Foundation_cos(Double.pi * e / es))) * (baseLR - minLR)
    }

    /// Cosine decay from `baseLR` to `minLR` over `total` steps (no warm-up).
    public static func cosine(step t: Int, total: Int, baseLR: Float, minLR: Float = 0) -> Float {
        warmupCosine(step: t, total: total, warmup: 0, baseLR: baseLR, minLR: minLR)
    }

    /// Restarts: `rounds` rounds of `perRound` steps, each with its own warm-up and cosine
    /// (PSAQ-ViT's two rounds of 500). The optimizer state is kept across rounds by the caller.
    public static func restarts(step t: Int, perRound: Int, warmup: Int, baseLR: Float, minLR: Float = 0) -> (round: Int, lr: Float) {
        let round = t / perRound
        return (round, warmupCosine(step: t % perRound, total: perRound, warmup: warmup, baseLR: baseLR, minLR: minLR))
    }
}
