/// An error loading or preparing data. Every case names the file (or folder) it is about.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    /// A file or folder is missing; `hint` says how to get it (e.g. the apt package).
    case missing(path: String, hint: String)
    /// A file exists but its content is not what the format requires.
    case corrupt(path: String, message: String)
    /// An argument is out of range (batch size, subset index, crop size, …).
    case argument(op: String, message: String)

    public var description: String {
        switch self {
        case let .missing(path, hint): return "\(path): not found; \(hint)"
        case let .corrupt(path, message): return "\(path): \(message)"
        case let .argument(op, message): return "\(op): \(message)"
        }
    }
}
