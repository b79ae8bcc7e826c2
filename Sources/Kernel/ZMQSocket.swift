import CZMQ
import Foundation

/// A ZeroMQ error, in libzmq's words, naming what was being done.
public struct ZMQError: Error, CustomStringConvertible {
    public let operation: String
    public let reason: String
    init(_ operation: String) {
        self.operation = operation
        reason = String(cString: zmq_strerror(zmq_errno()))
    }
    public var description: String { "\(operation): \(reason)" }
}

/// One libzmq context for the kernel's sockets.
final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    init() throws {
        guard let h = zmq_ctx_new() else { throw ZMQError("zmq_ctx_new") }
        handle = h
    }
}

/// A ZeroMQ socket used by one thread at a time (libzmq sockets are not thread-safe; a socket
/// shared between threads is wrapped in a lock by its owner).
final class ZMQSocket: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    let name: String

    init(_ context: ZMQContext, type: Int32, name: String) throws {
        guard let h = zmq_socket(context.handle, type) else { throw ZMQError("zmq_socket \(name)") }
        handle = h
        self.name = name
        var linger: Int32 = 1000  // on close, up to 1 s to deliver what is queued (a shutdown reply)
        zmq_setsockopt(h, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
    }

    /// Binds to `endpoint` (`tcp://127.0.0.1:5555`).
    func bind(_ endpoint: String) throws {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError("bind \(name) to \(endpoint)") }
    }

    /// Receives one multipart message; nil when `timeout` (seconds) passes first.
    func receive(timeout: Double) throws -> [Data]? {
        let ready = cz_poll_in(handle, Int(timeout * 1000))
        if ready < 0 {
            if zmq_errno() == EINTR { return nil }
            throw ZMQError("poll \(name)")
        }
        guard ready == 1 else { return nil }
        var frames: [Data] = []
        while true {
            var buf: UnsafeMutablePointer<UInt8>?
            var len = 0, more: Int32 = 0
            guard cz_recv_frame(handle, 0, &buf, &len, &more) == 0, let b = buf else {
                if zmq_errno() == EINTR { continue }
                throw ZMQError("receive on \(name)")
            }
            frames.append(Data(bytes: b, count: len))
            free(b)
            if more == 0 { return frames }
        }
    }

    /// Sends `frames` as one multipart message.
    func send(_ frames: [Data]) throws {
        for (i, f) in frames.enumerated() {
            let rc = f.withUnsafeBytes { raw in
                cz_send_frame(handle, raw.bindMemory(to: UInt8.self).baseAddress, f.count, i + 1 < frames.count ? 1 : 0)
            }
            guard rc == 0 else { throw ZMQError("send on \(name)") }
        }
    }

    func close() { zmq_close(handle) }
}
