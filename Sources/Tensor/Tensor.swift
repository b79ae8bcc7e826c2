import CKernels

/// Errors raised by tensor operations. Every shape error names the op and the shapes involved.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    case shape(op: String, message: String)
    case argument(op: String, message: String)

    public var description: String {
        switch self {
        case let .shape(op, message): return "\(op): shape mismatch: \(message)"
        case let .argument(op, message): return "\(op): \(message)"
        }
    }
}

/// Formats a shape the way the docs write it: `(32, 197, 192)`.
@inlinable public func shapeString(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }

/// Reference-counted, 64-byte aligned Float32 buffer. Several tensors may share one
/// (a reshape shares its input's storage), so in-place writes are visible through all of them.
/// Memory comes from `ck_buffer_alloc`, which reuses large freed buffers instead of returning
/// them to the kernel (fresh pages cost a fault and a kernel zero-fill each).
public final class Storage {
    public let count: Int
    public let ptr: UnsafeMutablePointer<Float>

    /// Runs `ck_tune_malloc` once, before the first tensor buffer is allocated.
    private static let mallocTuned: Bool = { ck_tune_malloc(); return true }()

    public init(count: Int) {
        _ = Storage.mallocTuned
        self.count = count
        let raw = ck_buffer_alloc(Swift.max(count, 1) * 4)!
        ptr = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
    }

    public convenience init(zeros count: Int) {
        self.init(count: count)
        ptr.initialize(repeating: 0, count: count)
    }

    deinit { ck_buffer_free(ptr, Swift.max(count, 1) * 4) }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: ptr, count: count) }
}

/// A dense, contiguous, row-major Float32 tensor with an optional place on the autodiff tape.
///
/// Design decision: `Tensor` is a class, not a struct. The tape links outputs to inputs and
/// gradients accumulate into leaves (parameters, images) across several `backward` calls, which
/// is reference semantics by nature (as in micrograd and PyTorch). Values are never mutated by
/// ops; only optimizers write parameters in place (`update`).
public final class Tensor {
    public let shape: [Int]
    public let storage: Storage
    /// Number of elements.
    public let count: Int

    /// Accumulated gradient of the last `backward`, same shape as the tensor.
    public internal(set) var gradStorage: Storage?
    /// Leaves with `requiresGrad` receive gradients; op outputs inherit it from their inputs.
    public var requiresGrad: Bool
    /// Tape links: the inputs of the op that made this tensor and its vector-Jacobian product.
    var parents: [Tensor] = []
    var backwardFn: ((UnsafeMutablePointer<Float>) -> Void)?
    /// Name of the op that created this tensor (for diagnostics and `print`).
    public internal(set) var op: String = "leaf"

    public init(shape: [Int], storage: Storage, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.storage = storage
        self.count = shape.reduce(1, *)
        precondition(storage.count >= count, "storage too small for shape \(shape)")
        self.requiresGrad = requiresGrad
    }

    /// Uninitialised tensor of the given shape (ops fill it).
    public convenience init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: Storage(count: shape.reduce(1, *)))
    }

    /// A tensor from values in row-major order.
    public convenience init(shape: [Int], _ values: [Float], requiresGrad: Bool = false) throws {
        let n = shape.reduce(1, *)
        guard n == values.count else {
            throw TensorError.shape(op: "tensor", message: "\(values.count) values do not fill shape \(shapeString(shape))")
        }
        self.init(shape: shape, storage: Storage(count: n), requiresGrad: requiresGrad)
        values.withUnsafeBufferPointer { storage.ptr.update(from: $0.baseAddress!, count: n) }
    }

    /// A 1-D tensor of the values.
    public convenience init(_ values: [Float], requiresGrad: Bool = false) {
        try! self.init(shape: [values.count], values, requiresGrad: requiresGrad)
    }

    /// A 0-d tensor holding one number.
    public convenience init(scalar: Float) {
        try! self.init(shape: [], [scalar])
    }

    public var rank: Int { shape.count }
    public var ptr: UnsafeMutablePointer<Float> { storage.ptr }
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: storage.ptr, count: count) }
    /// Copy of the values in row-major order.
    public var array: [Float] { Array(buffer) }
    /// The single value of a one-element tensor.
    public var item: Float { precondition(count == 1, "item() needs one element, shape is \(shapeString(shape))"); return ptr[0] }
    /// The gradient as a tensor (nil before `backward`).
    public var grad: Tensor? { gradStorage.map { Tensor(shape: shape, storage: $0) } }
    /// Whether this tensor was made by a recorded op (false for leaves and no-grad results).
    public var isOnTape: Bool { backwardFn != nil }

    /// Size of dimension `axis` (negative counts from the end).
    public func size(_ axis: Int) -> Int { shape[axis < 0 ? axis + rank : axis] }

    /// Element at a multi-index (for tests and printing).
    public subscript(_ idx: Int...) -> Float {
        var off = 0
        for (i, v) in idx.enumerated() { off = off * shape[i] + v }
        return ptr[off]
    }
}

// MARK: - Creation

extension Tensor {
    public static func zeros(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: Storage(zeros: shape.reduce(1, *)))
    }
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }
    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.ptr.initialize(repeating: value, count: t.count)
        return t
    }
    /// `start, start+step, …` below `end`.
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1) throws -> Tensor {
        guard step != 0 else { throw TensorError.argument(op: "arange", message: "step must not be 0") }
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        let t = Tensor(uninitialized: [n])
        for i in 0..<n { t.ptr[i] = start + Float(i) * step }
        return t
    }
    /// Uniform in [low, high) from the seeded generator.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RNG) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.ptr[i] = low + (high - low) * rng.nextFloat() }
        return t
    }
    /// Normal(mean, std) from the seeded generator.
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RNG) -> Tensor {
        let t = Tensor(uninitialized: shape)
        rng.fillNormal(t.buffer, mean: mean, std: std)
        return t
    }

    /// A copy that shares nothing with this tensor and is off the tape.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.ptr.update(from: ptr, count: count)
        return t
    }

    /// Same values, off the tape (shares storage). Gradients do not flow through the result.
    public func detach() -> Tensor { Tensor(shape: shape, storage: storage) }

    /// Overwrite values in place (used by optimizers and weight loading). Never records on the tape.
    public func assign(_ other: Tensor) throws {
        guard other.shape == shape else {
            throw TensorError.shape(op: "assign", message: "\(shapeString(shape)) vs \(shapeString(other.shape))")
        }
        ptr.update(from: other.ptr, count: count)
    }
}

// MARK: - Printing

extension Tensor: CustomStringConvertible {
    /// Shape, dtype and a few values, the way the REPL shows a tensor.
    public var description: String {
        var s = "tensor\(shapeString(shape)) f32"
        if requiresGrad { s += " requires_grad" }
        let n = Swift.min(count, 8)
        let vals = (0..<n).map { formatFloat(ptr[$0]) }.joined(separator: ", ")
        s += " [" + vals + (count > n ? ", …" : "") + "]"
        return s
    }
}

/// Compact number formatting: up to 4 significant decimals, no trailing zeros.
public func formatFloat(_ v: Float) -> String {
    if v.isNaN { return "nan" }
    if v.isInfinite { return v > 0 ? "inf" : "-inf" }
    if v == v.rounded() && abs(v) < 1e7 { return String(Int(v)) }
    let a = abs(v)
    if a >= 1e-3 && a < 1e6 {
        var s = String(format4(Double(v)))
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
    return "\(v)"
}

private func format4(_ v: Double) -> String {
    // 4 decimals without Foundation.
    let scaled = (v * 10000).rounded()
    let neg = scaled < 0
    let i = Int(abs(scaled))
    let whole = i / 10000, frac = i % 10000
    var f = String(frac)
    while f.count < 4 { f = "0" + f }
    return (neg ? "-" : "") + "\(whole).\(f)"
}
