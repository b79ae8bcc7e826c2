import CReadline
import Foundation
import Script

/// What one read from the user gave.
enum ReadResult {
    case line(String)
    /// Ctrl-C while editing: the current entry is dropped.
    case cancelled
    case eof
}

protocol LineReader {
    func read(prompt: String) -> ReadResult
    func remember(_ entry: String)
    func close()
}

/// GNU readline on a terminal: editing, history in `~/.sardfq_history` (or `$SARDFQ_HISTORY`),
/// and Tab completion from `Completion.candidates`.
final class ReadlineReader: LineReader {
    /// The interpreter completion looks into (C callbacks cannot capture context).
    nonisolated(unsafe) static var completionInterpreter: Interpreter?

    init(interpreter: Interpreter) {
        ReadlineReader.completionInterpreter = interpreter
        let path = ProcessInfo.processInfo.environment["SARDFQ_HISTORY"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".sardfq_history")
        crl_init(path) { linePtr, _, end in
            guard let linePtr, let interp = ReadlineReader.completionInterpreter else { return nil }
            let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(linePtr).assumingMemoryBound(to: UInt8.self), count: Int(end))
            let prefix = String(decoding: bytes, as: UTF8.self)
            let list = Completion.candidates(line: prefix, interpreter: interp)
            guard !list.isEmpty else { return nil }
            return strdup(list.joined(separator: "\n"))
        }
    }

    func read(prompt: String) -> ReadResult {
        var cancelled: Int32 = 0
        guard let p = crl_readline(prompt, &cancelled) else { return .eof }
        defer { crl_free(p) }
        if cancelled != 0 { return .cancelled }
        return .line(String(cString: p))
    }

    func remember(_ entry: String) { crl_add_history(entry) }
    func close() { crl_save_history() }
}

/// Plain line reading when stdin is not a terminal (pipes, tests): no prompts, no editing.
final class PlainReader: LineReader {
    /// A Ctrl-C while this waits for input does not end the wait (SIGINT is taken on another
    /// thread); the next entry clears it.
    func read(prompt: String) -> ReadResult {
        readLine(strippingNewline: true).map { .line($0) } ?? .eof
    }
    func remember(_ entry: String) {}
    func close() {}
}
