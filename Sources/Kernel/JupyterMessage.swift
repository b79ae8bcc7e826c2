import Crypto
import Foundation

/// One Jupyter message (messaging protocol v5) as it travels over ZeroMQ:
/// `[identities…, "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers…]`,
/// the signature being HMAC-SHA256 of the four JSON frames, in hex, with the connection's key.
struct JupyterMessage {
    var identities: [Data]
    var header: [String: Any]
    var parent: [String: Any]
    var metadata: [String: Any]
    var content: [String: Any]

    var type: String { header["msg_type"] as? String ?? "" }

    static let delimiter = Data("<IDS|MSG>".utf8)
    static let protocolVersion = "5.3"

    enum DecodeError: Error, CustomStringConvertible {
        case noDelimiter, tooFewFrames(Int), badSignature, badJSON(String)
        var description: String {
            switch self {
            case .noDelimiter: return "no <IDS|MSG> delimiter"
            case .tooFewFrames(let n): return "\(n) frames after the delimiter, 5 needed"
            case .badSignature: return "signature does not match (wrong key?)"
            case .badJSON(let frame): return "the \(frame) frame is not a JSON object"
            }
        }
    }

    /// Signs with HMAC-SHA256; an empty key means unsigned (signature "").
    struct Signer {
        let key: SymmetricKey?
        init(key: String) { self.key = key.isEmpty ? nil : SymmetricKey(data: Data(key.utf8)) }
        func sign(_ frames: [Data]) -> String {
            guard let key else { return "" }
            var mac = HMAC<SHA256>(key: key)
            for f in frames { mac.update(data: f) }
            return Data(mac.finalize()).map { String(format: "%02x", $0) }.joined()
        }
        func verify(_ signature: Data, _ frames: [Data]) -> Bool {
            guard key != nil else { return true }
            // Constant-time comparison: a timing oracle must not reveal the signature byte by byte.
            let expected = Array(sign(frames).utf8), given = Array(signature)
            guard expected.count == given.count else { return false }
            return zip(expected, given).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    static func decode(_ frames: [Data], signer: Signer) throws -> JupyterMessage {
        guard let d = frames.firstIndex(of: delimiter) else { throw DecodeError.noDelimiter }
        let rest = Array(frames[(d + 1)...])
        guard rest.count >= 5 else { throw DecodeError.tooFewFrames(rest.count) }
        guard signer.verify(rest[0], Array(rest[1...4])) else { throw DecodeError.badSignature }
        func object(_ data: Data, _ name: String) throws -> [String: Any] {
            guard let o = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw DecodeError.badJSON(name) }
            return o
        }
        return JupyterMessage(identities: Array(frames[..<d]), header: try object(rest[1], "header"),
                              parent: try object(rest[2], "parent_header"), metadata: try object(rest[3], "metadata"),
                              content: try object(rest[4], "content"))
    }

    func encode(signer: Signer) throws -> [Data] {
        let parts = try [header, parent, metadata, content].map {
            try JSONSerialization.data(withJSONObject: $0, options: [.withoutEscapingSlashes])
        }
        return identities + [JupyterMessage.delimiter, Data(signer.sign(parts).utf8)] + parts
    }

    /// A new message of `type` in `session`, answering `parent` (its header becomes ours' parent).
    static func make(_ type: String, content: [String: Any], parent: JupyterMessage?, session: String,
                     identities: [Data] = []) -> JupyterMessage {
        let header: [String: Any] = [
            "msg_id": UUID().uuidString.lowercased(), "session": session, "username": "sardfq",
            "date": ISO8601DateFormatter.jupyter.string(from: Date()), "msg_type": type, "version": protocolVersion,
        ]
        return JupyterMessage(identities: identities, header: header, parent: parent?.header ?? [:], metadata: [:], content: content)
    }
}

extension ISO8601DateFormatter {
    /// Jupyter's dates: ISO 8601 with fractional seconds, UTC.
    static let jupyter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}
