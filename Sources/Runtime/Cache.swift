import Foundation
import Plot
import Script

/// The on-disk cache of expensive results (synthetic sets, calibrated models, accuracies), in
/// `.sardfq-cache/` of the current directory or `$SARDFQ_CACHE`. Entries are opaque bytes; the
/// builtin that stores them chooses the format. `--fresh` sets `ignoreExisting` (results are
/// recomputed and the entries rewritten).
///
/// An entry is not trusted: each file starts with a header line naming its key and the SHA-256 of
/// its payload, both verified on read, so an edited entry or one copied under another key's name
/// (PSAQ-ViT images served as SARDFQ's) is a miss with a warning, and the result is recomputed.
///
/// The front ends install it as their run context's `ResultCache` (`installRuntimeServices`).
public final class Cache: ResultCache {
    nonisolated(unsafe) public static var shared = Cache(directory: Cache.defaultDirectory)

    public static var defaultDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["SARDFQ_CACHE"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".sardfq-cache")
    }

    static let magic = "sardfq-cache-v1"

    public let directory: URL
    /// When true, `lookup` always misses (but `store` still writes).
    public var ignoreExisting = false
    public private(set) var hits = 0
    public private(set) var misses = 0
    /// Warnings about refused entries, in order (also written to standard error unless `quiet`).
    public private(set) var warnings: [String] = []
    public var quiet = false
    let lock = NSLock()

    public init(directory: URL, ignoreExisting: Bool = false) {
        self.directory = directory
        self.ignoreExisting = ignoreExisting
    }

    func url(_ key: CacheKey) -> URL {
        directory.appendingPathComponent(key.kind).appendingPathComponent(key.hex + ".bin")
    }

    /// The header line of an entry: magic, kind, key, payload size and checksum.
    static func header(_ key: CacheKey, _ payload: Data) -> Data {
        let sum = payload.withUnsafeBytes { b -> String in var h = ContentHash(); h.update(b); return h.finalize() }
        return Data("\(magic) \(key.kind) \(key.hex) \(payload.count) \(sum)\n".utf8)
    }

    /// The stored bytes for `key`, or nil (always nil when `ignoreExisting`). An entry whose header
    /// does not name this key, or whose payload does not match its size and checksum, is a miss
    /// with a warning (and is overwritten by the next `store`).
    public func lookup(key: CacheKey) -> Data? {
        lock.lock(); defer { lock.unlock() }
        guard !ignoreExisting, let d = try? Data(contentsOf: url(key)) else { misses += 1; return nil }
        if let payload = Cache.verified(d, key: key) { hits += 1; return payload }
        misses += 1
        warn("cache: entry \(url(key).path) is damaged or belongs to another key (header or checksum mismatch); recomputing")
        return nil
    }

    /// The payload of entry bytes `d` if its header is `key`'s and its checksum holds.
    static func verified(_ d: Data, key: CacheKey) -> Data? {
        guard let nl = d.prefix(512).firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let payload = d[(nl + 1)...]
        guard Data(d[..<(nl + 1)]) == header(key, Data(payload)) else { return nil }
        return Data(payload)
    }

    /// Records (and unless `quiet`, prints) a warning.
    func warn(_ message: String) {
        warnings.append(message)
        if !quiet { Console.write(2, Data((message + "\n").utf8)) }
    }

    /// A cached payload that verified but that its reader could not decode (another format
    /// version, say): dropped with a warning, so the caller recomputes.
    public func reject(key: CacheKey, reason: String) {
        lock.lock(); defer { lock.unlock() }
        hits -= 1; misses += 1
        warn("cache: entry \(url(key).path) could not be read (\(reason)); recomputing")
    }

    /// Stores bytes for `key` atomically (a crash never leaves a half-written entry).
    public func store(key: CacheKey, data: Data) throws {
        try AtomicFile.write(Cache.header(key, data) + data, to: url(key).path)
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
