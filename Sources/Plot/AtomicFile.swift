import Foundation

/// Atomic file output: write a temporary sibling, then `rename(2)` it over the destination,
/// so a reader (or a crash) never sees half a file.
public enum AtomicFile {
    /// A unique temporary name in the same directory as `path` (same file system, so rename is atomic).
    /// The original extension is kept so tools that look at it (gnuplot, libpng) behave the same.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let ext = url.pathExtension
        let base = "." + url.lastPathComponent + ".tmp-" + ProcessInfo.processInfo.globallyUniqueString
        return dir + "/" + base + (ext.isEmpty ? "" : "." + ext)
    }

    /// Moves a finished temporary file into place.
    public static func commit(temporary tmp: String, to path: String) throws {
        guard rename(tmp, path) == 0 else {
            let msg = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw PlotError.io(path: path, message: "cannot move temporary file into place: \(msg)")
        }
    }

    /// Writes `data` atomically, creating the parent directory if needed.
    public static func write(_ data: Data, to path: String) throws {
        try ensureDirectory(for: path)
        let tmp = temporaryPath(for: path)
        do {
            try data.write(to: URL(fileURLWithPath: tmp))
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw PlotError.io(path: path, message: "cannot write: \(error.localizedDescription)")
        }
        try commit(temporary: tmp, to: path)
    }

    /// Writes UTF-8 text atomically.
    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    /// Creates the directory that will hold `path`.
    public static func ensureDirectory(for path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw PlotError.io(path: path, message: "cannot create directory \(dir): \(error.localizedDescription)")
        }
    }
}
