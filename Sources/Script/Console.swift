import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writing to standard output and error without trapping. Foundation's `FileHandle.write(_:)`
/// ends the process when the write fails (a terminal that went away answers EIO), so a REPL whose
/// terminal closed died in a runtime trap instead of exiting; these writes give up quietly.
public enum Console {
    /// Writes all of `data` to `fd` (1 or 2), retrying after signals; other errors drop the rest.
    public static func write(_ fd: Int32, _ data: Data) {
        data.withUnsafeBytes { raw in
            guard var p = raw.baseAddress else { return }
            var left = raw.count
            while left > 0 {
                let n = Glibc.write(fd, p, left)
                if n < 0 { if errno == EINTR { continue }; return }
                p += n; left -= n
            }
        }
    }
}
