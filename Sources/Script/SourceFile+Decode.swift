import Foundation

extension SourceFile {
    /// Reads a recipe file. A missing or unreadable file is a `SourceReadError` naming the path;
    /// bytes that are not text are a `Diagnostic` at their line and column (see `decode`).
    public static func read(path: String) throws -> SourceFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw SourceReadError(path: path, reason: (error as NSError).localizedFailureReason ?? "no such file or not readable")
        }
        return try decode(name: path, bytes: [UInt8](data))
    }

    /// Decodes a source file's bytes as UTF-8. A NUL byte or an invalid UTF-8 sequence is an error
    /// at its 1-based line and column ("invalid UTF-8 byte 0xC3"), shown under the line's valid
    /// part; a leading byte-order mark is skipped.
    public static func decode(name: String, bytes: [UInt8]) throws -> SourceFile {
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        // Fast path: valid UTF-8 without NUL, checked by the standard library in one pass.
        if !bytes.contains(0), let text = String(validating: bytes[start...], as: UTF8.self) {
            return SourceFile(name: name, text: text)
        }
        var parser = Unicode.UTF8.ForwardParser()
        var it = bytes[start...].makeIterator()
        var offset = start, line = 1, lineStart = start
        while true {
            switch parser.parseScalar(from: &it) {
            case .valid(let encoded):
                if encoded.count == 1, let b = encoded.first {
                    if b == 0 { throw badByte("NUL byte (0x00); a string writes it as \\0", offset) }
                    if b == 0x0A { line += 1; lineStart = offset + 1 }
                }
                offset += encoded.count
            case .error:
                throw badByte("invalid UTF-8 byte " + String(format: "0x%02X", bytes[offset]), offset)
            case .emptyInput:
                return SourceFile(name: name, text: String(decoding: bytes[start...], as: UTF8.self))
            }
        }

        // The position counts characters of the line's valid prefix, as every other column does.
        func badByte(_ message: String, _ at: Int) -> Diagnostic {
            let prefix = String(decoding: bytes[lineStart..<at], as: UTF8.self)
            let echoed = SourceFile(name: name, text: String(decoding: bytes[start...], as: UTF8.self).replacingOccurrences(of: "\0", with: " "))
            return Diagnostic(message, at: SourcePos(file: echoed, line: line, col: prefix.count + 1))
        }
    }
}

/// A source file that could not be read at all (missing, a folder, no permission).
public struct SourceReadError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot read '\(path)': \(reason)" }
}
