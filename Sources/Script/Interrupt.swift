/// Ctrl-C handling shared by the interpreter and long-running builtins.
///
/// The Runtime installs a SIGINT handler that sets `Interrupt.flag`; the interpreter checks it at
/// every loop iteration and call, and long builtins poll `Interrupt.requested` (or call
/// `try Interrupt.check()`) between steps, so Ctrl-C stops the running command but not the session.
public enum Interrupt {
    /// Written by the signal handler (a plain C int, so the handler stays async-signal-safe).
    nonisolated(unsafe) public static let flag: UnsafeMutablePointer<Int32> = {
        let p = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    /// Whether Ctrl-C was pressed since the last `clear()`.
    public static var requested: Bool { flag.pointee != 0 }
    public static func request() { flag.pointee = 1 }
    public static func clear() { flag.pointee = 0 }

    /// Throws `Interrupted` (and clears the flag) when Ctrl-C was pressed.
    public static func check() throws {
        if flag.pointee != 0 {
            flag.pointee = 0
            throw Interrupted()
        }
    }
}

/// Thrown when the user pressed Ctrl-C; the REPL prints "interrupted" and keeps the session.
public struct Interrupted: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "interrupted" }
}
