import Foundation
import Tensor

/// A content hash naming one cached result: the computation's kind plus everything its result
/// depends on (weights hash, arguments, seed) and `Version.code`.
public struct CacheKey: CustomStringConvertible, Hashable {
    public let kind: String
    public let hex: String

    /// `kind` names the computation ("synthesize", "accuracy"); `parts` are its inputs as text.
    public init(kind: String, _ parts: [String]) {
        var h = ContentHash()
        h.update(Version.code)
        h.update("\u{0}" + kind)
        for p in parts { h.update("\u{0}\(p.utf8.count):" + p) }
        self.kind = kind
        self.hex = h.finalize()
    }

    public var description: String { "\(kind)/\(hex.prefix(16))" }

    /// SHA-256 of a tensor's shape and values (e.g. the weights hash of a model).
    public static func hash(_ t: Tensor) -> String {
        var h = ContentHash()
        h.update(shapeString(t.shape))
        h.update(floats: t.ptr, count: t.count)
        return h.finalize()
    }

    /// SHA-256 of named tensors in the given order.
    public static func hash(_ named: [(String, Tensor)]) -> String {
        var h = ContentHash()
        for (n, t) in named {
            h.update(n + shapeString(t.shape))
            h.update(floats: t.ptr, count: t.count)
        }
        return h.finalize()
    }
}
