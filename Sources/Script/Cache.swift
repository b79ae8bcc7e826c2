import Foundation
import Tensor
import Plot

/// A content hash naming one cached result: the computation's kind plus everything its result
/// depends on (weights hash, arguments, seed) and `Version.code`.
public struct CacheKey: CustomStringConvertible, Hashable {
    public let kind: String
    public let hex: String

    /// `kind` names the computation ("synthesize", "accuracy"); `parts` are its inputs as text.
    public init(kind: String, _ parts: [String]) {
        var h = SHA256()
        h.update(Version.code)
        h.update("\u{0}" + kind)
        for p in parts { h.update("\u{0}\(p.utf8.count):" + p) }
        self.kind = kind
        self.hex = h.finalize()
    }

    public var description: String { "\(kind)/\(hex.prefix(16))" }

    /// SHA-256 of a tensor's shape and values (e.g. the weights hash of a model).
    public static func hash(_ t: Tensor) -> String {
        var h = SHA256()
        h.update(shapeString(t.shape))
        h.update(floats: t.ptr, count: t.count)
        return h.finalize()
    }

    /// SHA-256 of named tensors in the given order.
    public static func hash(_ named: [(String, Tensor)]) -> String {
        var h = SHA256()
        for (n, t) in named {
            h.update(n + shapeString(t.shape))
            h.update(floats: t.ptr, count: t.count)
        }
        return h.finalize()
    }
}

/// The on-disk cache of expensive results (synthetic sets, calibrated models, accuracies), in
/// `.sardfq-cache/` of the current directory or `$SARDFQ_CACHE`. Entries are opaque bytes; the
/// builtin that stores them chooses the format. `--fresh` sets `ignoreExisting` (results are
/// recomputed and the entries rewritten).
public final class Cache {
    nonisolated(unsafe) public static var shared = Cache(directory: Cache.defaultDirectory)

    public static var defaultDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["SARDFQ_CACHE"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".sardfq-cache")
    }

    public let directory: URL
    /// When true, `lookup` always misses (but `store` still writes).
    public var ignoreExisting = false
    public private(set) var hits = 0
    public private(set) var misses = 0
    let lock = NSLock()

    public init(directory: URL, ignoreExisting: Bool = false) {
        self.directory = directory
        self.ignoreExisting = ignoreExisting
    }

    func url(_ key: CacheKey) -> URL {
        directory.appendingPathComponent(key.kind).appendingPathComponent(key.hex + ".bin")
    }

    /// The stored bytes for `key`, or nil (always nil when `ignoreExisting`).
    public func lookup(key: CacheKey) -> Data? {
        lock.lock(); defer { lock.unlock() }
        guard !ignoreExisting, let d = try? Data(contentsOf: url(key)) else { misses += 1; return nil }
        hits += 1
        return d
    }

    /// Stores bytes for `key` atomically (a crash never leaves a half-written entry).
    public func store(key: CacheKey, data: Data) throws {
        try AtomicFile.write(data, to: url(key).path)
    }

    /// The cached bytes for `key`, computing and storing them on a miss.
    public func cached(key: CacheKey, _ compute: () throws -> Data) throws -> Data {
        if let d = lookup(key: key) { return d }
        let d = try compute()
        try store(key: key, data: d)
        return d
    }

    /// Deletes every entry.
    public func clear() throws {
        if FileManager.default.fileExists(atPath: directory.path) { try FileManager.default.removeItem(at: directory) }
    }
}
