import Crypto
import Foundation

/// SHA-256 (swift-crypto) of what a cached result depends on: cache keys, weight hashes and the
/// checksums of cache entries. Feed bytes with `update`, read the hex digest with `finalize`.
public struct ContentHash {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }
    public mutating func update(_ data: Data) { hasher.update(data: data) }
    public mutating func update(_ s: String) { hasher.update(data: Data(s.utf8)) }
    /// The raw bytes of `count` floats (their IEEE bit patterns, native byte order).
    public mutating func update(floats p: UnsafePointer<Float>, count: Int) {
        update(UnsafeRawBufferPointer(start: p, count: count * MemoryLayout<Float>.size))
    }

    /// The digest as 64 lowercase hex digits.
    public func finalize() -> String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }

    /// The hex digest of a string's UTF-8 bytes.
    public static func hex(_ s: String) -> String { var h = ContentHash(); h.update(s); return h.finalize() }
}
