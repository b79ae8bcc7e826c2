import Foundation

/// The largest tensor any op or creation path will allocate, checked before allocating.
///
/// Decision: one tensor may hold at most `min(2^32 bytes, physical memory / 4)`.
/// - 2^32 bytes = 2^30 Float32 elements is far above any tensor a ViT/Swin run makes (the
///   largest, attention probabilities of a batch of 128 at 224 px in ViT-B, is ~240 MB), and it
///   keeps the general broadcast path's Int32 offsets in range.
/// - A quarter of the physical memory (read at run time, not hard-coded) because a tensor that
///   large is never alone: its inputs, a gradient and the broadcast offsets live beside it, and
///   the process would be killed by the kernel instead of failing with a message.
/// A shape over the bound throws `TensorError.argument` naming the op, the shape and its byte size.
extension Tensor {
    /// The per-tensor allocation bound in bytes (see the type's doc comment for the decision).
    public static let maxBytes: Int = {
        let quarter = Int(clamping: ProcessInfo.processInfo.physicalMemory / 4)
        return Swift.min(1 << 32, Swift.max(quarter, 1 << 20))
    }()

    /// The element count of `shape`, or an error if a dimension is negative, the product
    /// overflows, or the Float32 tensor would exceed `maxBytes`. Call before allocating.
    @discardableResult
    public static func checkAllocation(_ shape: [Int], op: String) throws -> Int {
        if let d = shape.first(where: { $0 < 0 }) {
            throw TensorError.argument(op: op, message: "shape \(shapeString(shape)) has a negative dimension \(d)")
        }
        var n = 1
        for d in shape {
            let (m, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, m <= maxBytes / 4 else {
                throw TensorError.argument(op: op, message: "a tensor of shape \(shapeString(shape)) needs \(byteString(shape)), "
                    + "over the \(byteString(bytes: maxBytes)) limit per tensor")
            }
            n = m
        }
        return n
    }

    /// The Float32 byte size of `shape` in words ("8.0 GiB"); saturates instead of overflowing.
    static func byteString(_ shape: [Int]) -> String {
        let bytes = shape.reduce(4.0) { $0 * Double($1) }
        return bytes >= 0x1p62 ? String(format: "%.3g bytes", bytes) : byteString(bytes: Int(bytes))
    }

    static func byteString(bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var v = Double(bytes), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(bytes) bytes" : String(format: "%.1f", v) + " " + units[u]
    }
}
