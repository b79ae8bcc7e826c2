import Foundation

/// An error making a figure, an image or a table. Descriptions name the file involved.
public enum PlotError: Error, CustomStringConvertible, Equatable {
    /// gnuplot is not installed (or not on the search path); the script and data were still written.
    case gnuplotNotFound(script: String)
    /// gnuplot ran but failed; `stderr` is its complaint.
    case gnuplotFailed(script: String, status: Int32, stderr: String)
    /// A file could not be written.
    case io(path: String, message: String)
    /// A bad argument (shape, size, lengths that do not match).
    case argument(op: String, message: String)
    /// A bad value of the named parameter of `op` (`perplexity` of t-SNE), for callers that map it
    /// to their own argument names.
    case parameter(op: String, name: String, message: String)

    public var description: String {
        switch self {
        case let .gnuplotNotFound(script):
            return "gnuplot not found: apt-get install gnuplot-nox (the script and its data are in \(script); run `gnuplot \(script)` once it is installed)"
        case let .gnuplotFailed(script, status, stderr):
            return "\(script): gnuplot failed with status \(status): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
        case let .io(path, message): return "\(path): \(message)"
        case let .argument(op, message): return "\(op): \(message)"
        case let .parameter(op, _, message): return "\(op): \(message)"
        }
    }
}
