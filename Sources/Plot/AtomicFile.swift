import Foundation

/// Atomic file output: write a temporary sibling, then `rename(2)` it over the destination,
/// so a reader (or a crash) never sees half a file.
public enum AtomicFile {
    /// A unique temporary name in the same directory as `path` (same file system, so rename is atomic).
    /// The original extension is kept so tools that look at it (gnuplot, libpng) behave the same.
    /// The name carries the writer's process id, so a later run can tell a temporary left by a
    /// killed process (`removeStaleTemporaries`) from one that is still being written.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let ext = url.pathExtension
        let base = temporaryPrefix(for: path) + "\(getpid())-" + ProcessInfo.processInfo.globallyUniqueString
        return dir + "/" + base + (ext.isEmpty ? "" : "." + ext)
    }

    /// `.<name>.tmp-`: what every temporary of `path` starts with.
    static func temporaryPrefix(for path: String) -> String { "." + URL(fileURLWithPath: path).lastPathComponent + ".tmp-" }

    /// Removes the temporaries of `path` whose writing process is gone (killed mid-write: SIGKILL
    /// leaves no chance to clean up). Temporaries of live processes are left alone.
    /// - returns: the names removed
    @discardableResult
    public static func removeStaleTemporaries(for path: String) -> [String] {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let prefix = temporaryPrefix(for: path)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = pid_t(rest[..<dash]) else { continue }
            // kill(pid, 0) fails with ESRCH when no such process exists.
            if pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                if (try? FileManager.default.removeItem(atPath: dir + "/" + name)) != nil { removed.append(name) }
            }
        }
        return removed
    }

    /// Moves a finished temporary file into place.
    public static func commit(temporary tmp: String, to path: String) throws {
        guard rename(tmp, path) == 0 else {
            let msg = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw PlotError.io(path: path, message: "cannot move temporary file into place: \(msg)")
        }
    }

    /// Fault injection for the disk-full tests on machines that cannot mount a small tmpfs:
    /// with `SARDFQ_FAULT_DISK_BYTES=n` in the environment, writes fail with "No space left on
    /// device" once this process has written n bytes through `write`, as a full disk would.
    nonisolated(unsafe) static var diskBudget: Int? = ProcessInfo.processInfo.environment["SARDFQ_FAULT_DISK_BYTES"].flatMap(Int.init)

    /// Writes `data` atomically, creating the parent directory if needed.
    public static func write(_ data: Data, to path: String) throws {
        try ensureDirectory(for: path)
        removeStaleTemporaries(for: path)
        let tmp = temporaryPath(for: path)
        do {
            if let budget = diskBudget {
                if data.count > budget {
                    // What a full disk leaves: a partial temporary, then ENOSPC.
                    try? data.prefix(budget).write(to: URL(fileURLWithPath: tmp))
                    diskBudget = 0
                    throw NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC), userInfo: [NSLocalizedDescriptionKey: "No space left on device"])
                }
                diskBudget = budget - data.count
            }
            try data.write(to: URL(fileURLWithPath: tmp))
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw PlotError.io(path: path, message: "cannot write: \(reason(error))")
        }
        try commit(temporary: tmp, to: path)
    }

    /// Writes UTF-8 text atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    /// The operating system's words for a failed write ("No space left on device", "Read-only file
    /// system"), not Foundation's paraphrase of them.
    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        switch (error as? CocoaError)?.code {
        case .fileWriteOutOfSpace?: return String(cString: strerror(ENOSPC))
        case .fileWriteVolumeReadOnly?: return String(cString: strerror(EROFS))
        case .fileWriteNoPermission?: return String(cString: strerror(EACCES))
        default: return ns.localizedDescription
        }
    }

    /// Creates the directory that will hold `path`.
    public static func ensureDirectory(for path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw PlotError.io(path: path, message: "cannot create directory \(dir): \(reason(error))")
        }
    }
}
