import Tensor

/// Errors of model construction and weight loading; each names the keys involved.
public enum ModelError: Error, CustomStringConvertible {
    case loading(file: String, missing: [String], unexpected: [String], mismatched: [String])
    case config(String)
    case input(String)

    public var description: String {
        switch self {
        case let .loading(file, missing, unexpected, mismatched):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing keys: " + missing.joined(separator: ", ")) }
            if !unexpected.isEmpty { parts.append("unexpected keys: " + unexpected.joined(separator: ", ")) }
            if !mismatched.isEmpty { parts.append("shape mismatches: " + mismatched.joined(separator: "; ")) }
            return "\(file): cannot load weights: " + parts.joined(separator: "; ")
        case let .config(m): return "model config: \(m)"
        case let .input(m): return "model input: \(m)"
        }
    }
}

/// Named parameters in timm's state-dict order and key names.
public final class Parameters {
    public private(set) var names: [String] = []
    private var table: [String: Tensor] = [:]

    public init() {}

    /// Adds a parameter (a leaf that requires grad).
    @discardableResult public func add(_ name: String, _ t: Tensor) -> Tensor {
        precondition(table[name] == nil, "duplicate parameter \(name)")
        t.requiresGrad = true
        names.append(name); table[name] = t
        return t
    }

    public subscript(_ name: String) -> Tensor {
        guard let t = table[name] else { preconditionFailure("no parameter named \(name)") }
        return t
    }
    public func get(_ name: String) -> Tensor? { table[name] }
    public var all: [(String, Tensor)] { names.map { ($0, table[$0]!) } }
    public var tensors: [Tensor] { names.map { table[$0]! } }
    public var count: Int { names.reduce(0) { $0 + table[$1]!.count } }

    /// Strictly loads a state dict: every key must exist with the same shape, and nothing else.
    /// `ignoring` lists buffers that are computed, not loaded (e.g. Swin's relative_position_index).
    public func load(_ state: [(String, Tensor)], file: String, ignoring: (String) -> Bool = { _ in false }) throws {
        var seen = Set<String>()
        var unexpected: [String] = [], mismatched: [String] = []
        for (k, v) in state {
            if ignoring(k) { continue }
            guard let p = table[k] else { unexpected.append(k); continue }
            seen.insert(k)
            if p.shape != v.shape {
                mismatched.append("\(k): checkpoint \(shapeString(v.shape)) vs model \(shapeString(p.shape))")
            }
        }
        let missing = names.filter { !seen.contains($0) }
        if !missing.isEmpty || !unexpected.isEmpty || !mismatched.isEmpty {
            throw ModelError.loading(file: file, missing: missing, unexpected: unexpected, mismatched: mismatched)
        }
        // NaN or infinite weights make every output NaN (and a NaN logit would rank first): refuse them by name.
        for (k, v) in state where !ignoring(k) {
            if let i = (0..<v.count).first(where: { !v.ptr[$0].isFinite }) {
                throw ModelError.config("\(file): tensor '\(k)' holds a non-finite value (\(v.ptr[i]) at flat index \(i)); the checkpoint is damaged")
            }
        }
        for (k, v) in state where !ignoring(k) { table[k]!.ptr.update(from: v.ptr, count: v.count) }
    }

    /// A deep copy (new storage) of every parameter.
    public func copy() -> Parameters {
        let p = Parameters()
        for (n, t) in all { p.add(n, t.copy()) }
        return p
    }
}

/// Where a model lets a quantizer (or a recorder) see and replace tensors during the forward.
/// Site names are timm module paths: `blocks.3.attn.qkv` for a linear layer, and
/// `blocks.3.attn.q` / `.k` / `.v` / `.attn` for the attention matmul operands.
public protocol ForwardHooks: AnyObject {
    /// Input of a linear layer (or of the patch embedding) at `layer`, before the product.
    func input(_ layer: String, _ x: Tensor) throws -> Tensor
    /// Weight of a linear layer (or patch embedding) at `layer`.
    func weight(_ layer: String, _ w: Tensor) throws -> Tensor
    /// An operand of an attention matmul at `site` (q, k, v or attn probabilities).
    func operand(_ site: String, _ x: Tensor) throws -> Tensor
    /// The whole linear layer `layer` computed by the hooks (a quantized model's integer path),
    /// or nil for the usual input → weight → product: residual + x·Wᵀ + b, or GELU(x·Wᵀ + b).
    /// - x: (…, K), weight: (N, K), bias: (N) or nil, residual: (…, N) or nil → (…, N)
    func integerLinear(_ layer: String, _ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor?, gelu: Bool) throws -> Tensor?
    /// The whole attention of the block at `pre` computed by the hooks from the qkv projection's
    /// output (a quantized model's integer path), or nil for the operand-by-operand path.
    /// - qkv: (B, N, 3·H·hd), bias: (H, N, N) or nil, mask: (nW, N, N) or nil → (B, N, H·hd)
    func integerAttention(_ pre: String, qkv: Tensor, heads: Int, scale: Float, bias: Tensor?, mask: Tensor?) throws -> Tensor?
    /// The MLP at `pre` (`mlp.fc1`, GELU, `mlp.fc2`) computed by the hooks in one pass whose hidden
    /// activations never leave the cache, or nil. - y: (…, D), residual: (…, D) or nil → residual + MLP(y)
    func integerMLP(_ pre: String, _ y: Tensor, fc1: Tensor, fc1Bias: Tensor?, fc2: Tensor, fc2Bias: Tensor?, residual: Tensor?) throws -> Tensor?
    /// A block's attention at `pre` (qkv projection, attention, output projection, residual)
    /// computed by the hooks in one pass per group of images, or nil.
    /// - y: (B, N, D), bias: (H, N, N) or nil, mask: (nW, N, N) or nil, residual: (B, N, D) or nil
    func integerAttentionBlock(_ pre: String, _ y: Tensor, qkv: Tensor, qkvBias: Tensor?, proj: Tensor, projBias: Tensor?,
                               heads: Int, scale: Float, bias: Tensor?, mask: Tensor?, residual: Tensor?) throws -> Tensor?
    /// Whether the hooks may compute layers in integers (then the patch embedding offers its
    /// patches as rows to `integerLinear`).
    var executesIntegers: Bool { get }
}

extension ForwardHooks {
    public func integerLinear(_ layer: String, _ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor?, gelu: Bool) throws -> Tensor? { nil }
    public func integerAttention(_ pre: String, qkv: Tensor, heads: Int, scale: Float, bias: Tensor?, mask: Tensor?) throws -> Tensor? { nil }
    public func integerMLP(_ pre: String, _ y: Tensor, fc1: Tensor, fc1Bias: Tensor?, fc2: Tensor, fc2Bias: Tensor?, residual: Tensor?) throws -> Tensor? { nil }
    public func integerAttentionBlock(_ pre: String, _ y: Tensor, qkv: Tensor, qkvBias: Tensor?, proj: Tensor, projBias: Tensor?,
                                      heads: Int, scale: Float, bias: Tensor?, mask: Tensor?, residual: Tensor?) throws -> Tensor? { nil }
    public var executesIntegers: Bool { false }
}

/// A block's attention through optional hooks: residual + proj(attention(qkv(y))), in integers
/// in one pass when the hooks take it (and nothing is captured).
/// - y: (B, N, D), bias: (H, N, N) or nil, mask: (nW, N, N) or nil, residual: (B, N, D) or nil → (B, N, D)
func hookedAttentionBlock(_ y: Tensor, _ p: Parameters, _ pre: String, heads: Int, bias: Tensor?, mask: Tensor?, residual: Tensor?,
                          _ hooks: ForwardHooks?, out: inout ModelOutput?, capture: Capture) throws -> Tensor {
    if let hooks, hooks.executesIntegers, capture.isDisjoint(with: [.attention, .attentionOutput]) {
        let w = p[pre + "attn.qkv.weight"], hd = w.shape[0] / (3 * heads)
        if let z = try hooks.integerAttentionBlock(pre, y, qkv: w, qkvBias: p.get(pre + "attn.qkv.bias"), proj: p[pre + "attn.proj.weight"],
                                                   projBias: p.get(pre + "attn.proj.bias"), heads: heads, scale: 1 / Float(hd).squareRoot(),
                                                   bias: bias, mask: mask, residual: residual) {
            return z
        }
    }
    let qkv = try hookedLinear(y, p, pre + "attn.qkv", hooks)                                         // (B, N, 3D); bias when present
    let merged = try hookedAttention(qkv, heads: heads, bias: bias, mask: mask, pre, hooks, out: &out, capture: capture)  // (B, N, D)
    return try hookedLinear(merged, p, pre + "attn.proj", hooks, residual: residual)
}

/// A block's MLP through optional hooks: residual + fc2(GELU(fc1(x))), in integers in one pass
/// when the hooks take it. - x: (…, D), residual: (…, D) or nil → (…, D)
func hookedMLP(_ x: Tensor, _ p: Parameters, _ pre: String, _ hooks: ForwardHooks?, residual: Tensor?) throws -> Tensor {
    if let hooks, hooks.executesIntegers,
       let y = try hooks.integerMLP(pre, x, fc1: p[pre + "mlp.fc1.weight"], fc1Bias: p.get(pre + "mlp.fc1.bias"),
                                    fc2: p[pre + "mlp.fc2.weight"], fc2Bias: p.get(pre + "mlp.fc2.bias"), residual: residual) {
        return y
    }
    return try hookedLinear(hookedLinearGELU(x, p, pre + "mlp.fc1", hooks), p, pre + "mlp.fc2", hooks, residual: residual)
}

/// The patch embedding `patch_embed.proj` through optional hooks: a linear layer on the image's
/// patches (`integerLinear`) when the hooks take it in integers, else the quantized image and
/// kernel through `patchEmbed`. - x: (B, C, H, W) → (B, (H/P)·(W/P), D)
func hookedPatchEmbed(_ x: Tensor, _ params: Parameters, _ hooks: ForwardHooks?) throws -> Tensor {
    let name = "patch_embed.proj"
    let w = params[name + ".weight"], bias = params.get(name + ".bias")
    guard let hooks else { return try x.patchEmbed(weight: w, bias: bias) }
    if hooks.executesIntegers, w.rank == 4 {
        let (d, p) = (w.shape[0], w.shape[2])
        let cols = try x.patchColumns(patch: p)                                                      // (B·N, C·P·P)
        if let y = try hooks.integerLinear(name, cols, weight: w.reshape([d, cols.shape[1]]), bias: bias, residual: nil, gelu: false) {
            return try y.reshape([x.shape[0], cols.shape[0] / x.shape[0], d])
        }
    }
    return try hooks.input(name, x).patchEmbed(weight: hooks.weight(name, w), bias: bias)
}

/// What the forward should keep besides the logits.
public struct Capture: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Softmax attention probabilities per block, (B, H, N, N) (Swin: (B·nW, H, w², w²)).
    public static let attention = Capture(rawValue: 1)
    /// Attention outputs per head before the projection, (B, H, N, d) (Swin: per window).
    public static let attentionOutput = Capture(rawValue: 2)
    /// Input and output of every block (for block reconstruction).
    public static let blockIO = Capture(rawValue: 4)
}

/// Result of a forward pass.
public struct ModelOutput {
    /// (B, classes)
    public var logits: Tensor
    /// Pre-head features: the final class token (ViT) or the pooled tokens (Swin), (B, D).
    public var features: Tensor
    public var attention: [Tensor] = []
    public var attentionOutput: [Tensor] = []
    public var blockInputs: [Tensor] = []
    public var blockOutputs: [Tensor] = []
}

/// A vision transformer the rest of the runtime can drive.
public protocol VisionModel: AnyObject {
    var architecture: Architecture { get }
    var params: Parameters { get }
    /// Forward pass. - x: (B, C, H, W) normalized images.
    func forward(_ x: Tensor, capture: Capture, hooks: ForwardHooks?) throws -> ModelOutput
    /// Names of the blocks in forward order (for reconstruction and per-block reports).
    var blockNames: [String] { get }
    /// Runs one block alone. - x: the block's input as seen in `forward` (ViT (B, N, D); Swin (B, H, W, C)).
    func forwardBlock(_ index: Int, _ x: Tensor, hooks: ForwardHooks?) throws -> Tensor
    /// A deep copy with its own parameters.
    func clone() -> VisionModel
}

extension VisionModel {
    public func forward(_ x: Tensor) throws -> Tensor { try forward(x, capture: [], hooks: nil).logits }
    public var parameterCount: Int { params.count }
}

/// Linear layer through optional hooks. - x: (…, in) → (…, out)
@inline(__always)
func hookedLinear(_ x: Tensor, _ p: Parameters, _ name: String, _ hooks: ForwardHooks?, bias: Bool = true,
                  residual: Tensor? = nil) throws -> Tensor {
    let w = p[name + ".weight"], b = bias ? p.get(name + ".bias") : nil
    guard let hooks else { return try x.linear(weight: w, bias: b, residual: residual) }
    if let y = try hooks.integerLinear(name, x, weight: w, bias: b, residual: residual, gelu: false) { return y }
    return try hooks.input(name, x).linear(weight: hooks.weight(name, w), bias: b, residual: residual)
}

/// An MLP's first linear layer and its GELU through optional hooks (fused when there is a bias).
/// - x: (…, in) → (…, hidden)
func hookedLinearGELU(_ x: Tensor, _ p: Parameters, _ name: String, _ hooks: ForwardHooks?) throws -> Tensor {
    guard let b = p.get(name + ".bias") else { return try hookedLinear(x, p, name, hooks, bias: false).gelu() }
    let w = p[name + ".weight"]
    guard let hooks else { return try x.linearGELU(weight: w, bias: b) }
    if let y = try hooks.integerLinear(name, x, weight: w, bias: b, residual: nil, gelu: true) { return y }
    return try hooks.input(name, x).linearGELU(weight: hooks.weight(name, w), bias: b)
}

/// A block's multi-head attention from its fused qkv projection, shared by ViT and Swin: the fused
/// op (`Tensor.attention`) in float; through the hooks one operand at a time when quantized (the
/// hooks see Q, K, V and the probabilities as tensors of their own). Captures the probabilities
/// (B, H, N, N) and the per-head outputs (B, H, N, hd) when asked.
/// - qkv: (B, N, 3·H·hd), bias: (H, N, N) or nil, mask: (nW, N, N) or nil (item b uses mask[b mod nW])
///   → context (B, N, H·hd), heads merged
func hookedAttention(_ qkv: Tensor, heads: Int, bias: Tensor?, mask: Tensor?, _ pre: String, _ hooks: ForwardHooks?,
                     out: inout ModelOutput?, capture: Capture) throws -> Tensor {
    let (b, n) = (qkv.shape[0], qkv.shape[1]), hd = qkv.shape[2] / (3 * heads)
    let scale = 1 / Float(hd).squareRoot()
    guard let hooks else {
        let (attn, context) = try Tensor.attention(qkv: qkv, heads: heads, scale: scale, bias: bias, mask: mask)
        if capture.contains(.attention) { out?.attention.append(attn) }
        if capture.contains(.attentionOutput) { out?.attentionOutput.append(try context.reshape([b, n, heads, hd]).permute([0, 2, 1, 3])) }
        return context
    }
    if capture.isDisjoint(with: [.attention, .attentionOutput]),
       let context = try hooks.integerAttention(pre, qkv: qkv, heads: heads, scale: scale, bias: bias, mask: mask) {
        return context
    }
    let parts = try qkv.splitHeads(parts: 3, heads: heads)                                           // 3 × (B, H, N, hd)
    let q = try hooks.operand(pre + "attn.q", parts[0]), k = try hooks.operand(pre + "attn.k", parts[1])
    let v = try hooks.operand(pre + "attn.v", parts[2])
    var scores = try Tensor.matmul(q, k, transB: true, alpha: scale)                                  // (B, H, N, N)
    if var full = try bias?.reshape([1, heads, n, n]) {
        let nW = mask?.shape[0] ?? 1
        if let mask { full = try full + mask.reshape([nW, 1, n, n]) }                               // (nW or 1, H, N, N)
        scores = try (scores.reshape([b / nW, nW, heads, n, n]) + full).reshape([b, heads, n, n])
    }
    let attn = try scores.softmax()
    if capture.contains(.attention) { out?.attention.append(attn) }
    let ctx = try Tensor.matmul(hooks.operand(pre + "attn.attn", attn), v)                            // (B, H, N, hd)
    if capture.contains(.attentionOutput) { out?.attentionOutput.append(ctx) }
    return try ctx.permute([0, 2, 1, 3]).reshape([b, n, heads * hd])
}

/// Deterministic initialisation used when training from scratch (timm's ViT scheme:
/// truncated normal std 0.02 for weights, zero biases, unit LayerNorm scales).
func truncNormal(_ shape: [Int], std: Float, rng: inout RNG) -> Tensor {
    let t = Tensor(uninitialized: shape)
    for i in 0..<t.count {
        var v: Float
        repeat { v = rng.normal() } while Swift.abs(v) > 2
        t.ptr[i] = v * std
    }
    return t
}
