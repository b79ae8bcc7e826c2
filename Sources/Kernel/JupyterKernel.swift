import CZMQ
import Foundation
import Plot
import Script

/// A Jupyter kernel for the recipe language (messaging protocol v5.3 over ZeroMQ).
///
/// Threads: the shell loop runs on the calling thread and executes cells one at a time (the
/// interpreter and its state live there); a control thread answers `interrupt_request` (sets the
/// Ctrl-C flag the interpreter and the engine poll, so the running cell stops and its state is
/// kept) and `shutdown_request`; a heartbeat thread echoes. IOPub is shared, behind a lock.
public final class JupyterKernel: @unchecked Sendable {
    /// The connection file Jupyter writes for a kernel it starts.
    struct Connection: Decodable {
        let ip: String
        let transport: String
        let shell_port: Int, iopub_port: Int, stdin_port: Int, control_port: Int, hb_port: Int
        let key: String
        let signature_scheme: String?

        func endpoint(_ port: Int) -> String {
            transport == "ipc" ? "ipc://\(ip)-\(port)" : "tcp://\(ip):\(port)"
        }
    }

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    let signer: JupyterMessage.Signer
    let session = UUID().uuidString.lowercased()
    let context: ZMQContext
    let shell, control, iopub, stdinSocket, heartbeat: ZMQSocket
    let iopubLock = NSLock()
    let interpreter: Interpreter
    var executionCount = 0
    /// The request whose cell is running (prints and progress are its outputs).
    var running: JupyterMessage?
    /// Open progress displays: report → display id.
    var progressDisplays: [ObjectIdentifier: String] = [:]
    private let stateLock = NSLock()
    private var stopping = false

    var isStopping: Bool { stateLock.lock(); defer { stateLock.unlock() }; return stopping }
    func stop() { stateLock.lock(); stopping = true; stateLock.unlock() }

    /// Binds the five sockets named in `connectionFile`. `context` is the interpreter's, with the
    /// services its creator installed (`sardfq kernel` installs Runtime's cache, progress display
    /// and provenance writer; the kernel routes progress to its cells through `progressLines`).
    public init(connectionFile: String, context runContext: RunContext = RunContext()) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: connectionFile)) } catch {
            throw StartError(description: "cannot read the connection file '\(connectionFile)': \(error.localizedDescription)")
        }
        let c: Connection
        do { c = try JSONDecoder().decode(Connection.self, from: data) } catch {
            throw StartError(description: "'\(connectionFile)' is not a Jupyter connection file: \(error)")
        }
        if let scheme = c.signature_scheme, scheme != "hmac-sha256", !c.key.isEmpty {
            throw StartError(description: "'\(connectionFile)': signature scheme '\(scheme)' is not supported (hmac-sha256 is)")
        }
        signer = JupyterMessage.Signer(key: c.key)
        context = try ZMQContext()
        shell = try ZMQSocket(context, type: ZMQ_ROUTER, name: "shell")
        control = try ZMQSocket(context, type: ZMQ_ROUTER, name: "control")
        iopub = try ZMQSocket(context, type: ZMQ_PUB, name: "iopub")
        stdinSocket = try ZMQSocket(context, type: ZMQ_ROUTER, name: "stdin")
        heartbeat = try ZMQSocket(context, type: ZMQ_REP, name: "heartbeat")
        for (s, port) in [(shell, c.shell_port), (control, c.control_port), (iopub, c.iopub_port),
                          (stdinSocket, c.stdin_port), (heartbeat, c.hb_port)] {
            try s.bind(c.endpoint(port))
        }
        interpreter = Interpreter(context: runContext)
        interpreter.output = { [unowned self] text in self.stream("stdout", text) }
    }

    /// Serves until a shutdown request. Returns the exit status.
    public func run() -> Int32 {
        interpreter.context.progressLines = { [unowned self] id, line, done in self.progress(id, line, done) }
        defer { interpreter.context.progressLines = nil }
        Thread.detachNewThread { [self] in
            while !isStopping {
                guard let frames = try? heartbeat.receive(timeout: 0.2) else { continue }
                try? heartbeat.send(frames)
            }
        }
        Thread.detachNewThread { [self] in
            while !isStopping {
                guard let frames = try? control.receive(timeout: 0.2) else { continue }
                handle(frames, on: control)
            }
        }
        publish("status", ["execution_state": "starting"], parent: nil)
        while !isStopping {
            do {
                guard let frames = try shell.receive(timeout: 0.2) else { continue }
                handle(frames, on: shell)
            } catch {
                log("shell: \(error)")
                return 1
            }
        }
        Thread.sleep(forTimeInterval: 0.3)  // the shutdown reply and the last status leave first
        for s in [shell, control, iopub, stdinSocket, heartbeat] { s.close() }
        return 0
    }

    func log(_ s: String) { Console.write(2, Data("sardfq kernel: \(s)\n".utf8)) }

    // MARK: sending

    func publish(_ type: String, _ content: [String: Any], parent: JupyterMessage?) {
        let m = JupyterMessage.make(type, content: content, parent: parent, session: session,
                                    identities: [Data("kernel.\(session).\(type)".utf8)])
        iopubLock.lock(); defer { iopubLock.unlock() }
        do { try iopub.send(try m.encode(signer: signer)) } catch { log("iopub: \(error)") }
    }

    func reply(_ request: JupyterMessage, _ type: String, _ content: [String: Any], on socket: ZMQSocket) {
        let m = JupyterMessage.make(type, content: content, parent: request, session: session, identities: request.identities)
        do { try socket.send(try m.encode(signer: signer)) } catch { log("\(socket.name): \(error)") }
    }

    func stream(_ name: String, _ text: String) {
        guard let parent = running, !text.isEmpty else { return }
        publish("stream", ["name": name, "text": text], parent: parent)
    }

    /// A progress report as one output that updates in place (`update_display_data`).
    func progress(_ id: ObjectIdentifier, _ line: String, _ done: Bool) {
        guard let parent = running else { return }
        stateLock.lock()
        let existing = progressDisplays[id]
        let displayID = existing ?? "progress-\(UUID().uuidString.lowercased())"
        if done { progressDisplays[id] = nil } else { progressDisplays[id] = displayID }
        stateLock.unlock()
        publish(existing == nil ? "display_data" : "update_display_data",
                ["data": ["text/plain": line], "metadata": [:], "transient": ["display_id": displayID]], parent: parent)
    }

    // MARK: dispatch

    func handle(_ frames: [Data], on socket: ZMQSocket) {
        let request: JupyterMessage
        do { request = try JupyterMessage.decode(frames, signer: signer) } catch {
            log("\(socket.name): dropped a message: \(error)")
            return
        }
        publish("status", ["execution_state": "busy"], parent: request)
        defer { publish("status", ["execution_state": "idle"], parent: request) }
        switch request.type {
        case "kernel_info_request": reply(request, "kernel_info_reply", kernelInfo, on: socket)
        case "execute_request": execute(request, on: socket)
        case "complete_request": reply(request, "complete_reply", complete(request.content), on: socket)
        case "inspect_request": reply(request, "inspect_reply", inspect(request.content), on: socket)
        case "is_complete_request": reply(request, "is_complete_reply", isComplete(request.content), on: socket)
        case "history_request": reply(request, "history_reply", ["status": "ok", "history": []], on: socket)
        case "comm_info_request": reply(request, "comm_info_reply", ["status": "ok", "comms": [String: Any]()], on: socket)
        case "interrupt_request":
            Interrupt.flag.pointee = 1
            reply(request, "interrupt_reply", ["status": "ok"], on: socket)
        case "shutdown_request":
            let restart = request.content["restart"] as? Bool ?? false
            reply(request, "shutdown_reply", ["status": "ok", "restart": restart], on: socket)
            Interrupt.flag.pointee = 1  // a running cell stops
            stop()
        default:
            log("\(socket.name): no handler for '\(request.type)'")
        }
    }

    var kernelInfo: [String: Any] {
        [
            "status": "ok", "protocol_version": JupyterMessage.protocolVersion, "implementation": "sardfq",
            "implementation_version": Version.string,
            "language_info": ["name": "sardfq", "version": Version.string, "mimetype": "text/x-sardfq",
                              "file_extension": ".dfq", "pygments_lexer": "text", "codemirror_mode": "text"],
            "banner": "sardfq \(Version.string): data-free quantization of vision transformers",
            "help_links": [] as [Any],
        ]
    }
}
