/// How long computations inside the engine and the libraries notice Ctrl-C.
///
/// The scripting layer sets `poll` to read its SIGINT flag; a loop that can run for seconds (a
/// large GEMM between row panels, t-SNE's iterations, block reconstruction's steps) calls
/// `try Interruption.check(op)` and unwinds with `ComputationInterrupted`, which the interpreter
/// reports as an interrupted command, keeping the session.
public enum Interruption {
    /// Returns true when the user asked to stop; nil (the default) never stops.
    nonisolated(unsafe) public static var poll: (() -> Bool)? = nil

    /// Throws `ComputationInterrupted` when `poll` says so.
    @inline(__always)
    public static func check(_ op: String) throws {
        if let poll, poll() { throw ComputationInterrupted(op: op) }
    }
}

/// A computation stopped by `Interruption.check`.
public struct ComputationInterrupted: Error, CustomStringConvertible, Equatable {
    public let op: String
    public init(op: String) { self.op = op }
    public var description: String { "\(op) interrupted" }
}
