import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CSpawn

/// A child process started with `posix_spawn` and reaped with `waitpid` on its own pid.
///
/// Why not Foundation's `Process`: on Linux it learns of a child's exit from a SIGCHLD dispatch
/// source, and a process-directed SIGCHLD may be taken by any thread that does not block it
/// (OpenBLAS's and our pool's threads are such). When that happens the child stays a zombie and
/// `waitUntilExit()` never returns — a gnuplot call or a test waiting forever. `waitpid` on the
/// child's pid does not depend on who received the signal.
public final class Subprocess: @unchecked Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream {
        case null
        /// A pipe whose other end this object holds (`inputFD` / `outputFD` / `errorFD`).
        case pipe
        /// A file, created or truncated for output, opened for reading as input.
        case file(String)
        /// The same pipe as the child's standard output (stderr only).
        case output
    }

    /// How a finished child ended.
    public struct Exit: Equatable, Sendable {
        /// The exit code, or 128 + the signal number when a signal ended it (as a shell reports it).
        public let status: Int32
        /// The signal that ended the child, if one did.
        public let signal: Int32?
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public let executable: String
        public let reason: String
        public var description: String { "cannot start '\(executable)': \(reason)" }
    }

    public let pid: pid_t
    public private(set) var inputFD: Int32?
    public private(set) var outputFD: Int32?
    public private(set) var errorFD: Int32?
    private var exit: Exit?
    private let lock = NSLock()

    /// Starts `executable` (a path) with `arguments`; the environment is this process's unless given.
    /// The child starts as from a shell: signals at their default actions and none blocked but
    /// `blockedSignals` (not the mask of the thread that spawns it, which may block SIGINT).
    public init(_ executable: String, _ arguments: [String] = [], directory: String? = nil,
                environment: [String: String]? = nil, blockedSignals: [Int32] = [],
                stdin: Stream = .null, stdout: Stream = .pipe, stderr: Stream = .pipe) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32] = [], childEnds: [Int32] = []
        var ours: [Int32?] = [nil, nil, nil]
        func fail(_ reason: String) -> SpawnError {
            for fd in parentEnds + childEnds { close(fd) }
            return SpawnError(executable: executable, reason: reason)
        }
        for (target, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                let flags = target == 0 ? O_RDONLY : (O_WRONLY | O_CREAT | O_TRUNC)
                posix_spawn_file_actions_addopen(&actions, target, path, flags, 0o644)
            case .output:
                precondition(target == 2, "only stderr can share stdout's stream")
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
            case .pipe:
                var fds: [Int32] = [0, 0]
                // Close-on-exec on both ends: the child sees only the dup2'd copy, so no other
                // child (or this child's children) keeps this pipe open.
                guard cspawn_pipe_cloexec(&fds) == 0 else { throw fail(String(cString: strerror(errno))) }
                let (childEnd, parentEnd) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                parentEnds.append(parentEnd); childEnds.append(childEnd)
                ours[Int(target)] = parentEnd
                posix_spawn_file_actions_adddup2(&actions, childEnd, target)
            }
        }
        if let directory { cspawn_addchdir(&actions, directory) }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for p in argv + envp { free(p) } }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t(), defaults = sigset_t()
        sigemptyset(&mask)
        for signal in blockedSignals { sigaddset(&mask, signal) }
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        for fd in childEnds { close(fd) }
        guard rc == 0 else {
            for fd in parentEnds { close(fd) }
            throw SpawnError(executable: executable, reason: String(cString: strerror(rc)))
        }
        pid = child
        (inputFD, outputFD, errorFD) = (ours[0], ours[1], ours[2])
    }

    deinit {
        for fd in [inputFD, outputFD, errorFD] { if let fd { close(fd) } }
        if exit == nil { _ = try? wait(timeout: 0) }
    }

    /// Writes all of `data` to the child's standard input (a `.pipe`).
    public func write(_ data: Data) {
        guard let fd = inputFD else { return }
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; return }
                off += n
            }
        }
    }

    /// Closes the child's standard input, so that it reads end of file.
    public func closeInput() {
        lock.lock(); defer { lock.unlock() }
        if let fd = inputFD { close(fd); inputFD = nil }
    }

    /// Sends `signal` to the child (no effect once it has been reaped).
    public func send(_ signal: Int32) {
        lock.lock(); defer { lock.unlock() }
        if exit == nil { kill(pid, signal) }
    }

    /// True until the child has ended.
    public var isRunning: Bool { (try? wait(timeout: 0)) == nil }

    /// Waits for the child; nil when it is still running after `timeout` seconds (forever when nil).
    @discardableResult
    public func wait(timeout: Double? = nil) throws -> Exit? {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while true {
            lock.lock()
            if let exit { lock.unlock(); return exit }
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)  // never block holding the lock: `send` must get in
            if r == pid {
                let low = status & 0x7f
                exit = low == 0 ? Exit(status: (status >> 8) & 0xff, signal: nil) : Exit(status: 128 + low, signal: low)
                lock.unlock()
                return exit
            }
            let err = errno
            lock.unlock()
            if r < 0 && err != EINTR {
                // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN); its status is unknown.
                throw SpawnError(executable: "pid \(pid)", reason: String(cString: strerror(err)))
            }
            if r == 0 {
                if let deadline, Date() >= deadline { return nil }
                usleep(5_000)
            }
        }
    }

    /// What `run` collected.
    public struct Result: Sendable {
        public let exit: Exit
        public let stdout: Data
        public let stderr: Data
        /// True when the child was killed because it outlived the timeout.
        public let timedOut: Bool
        public var status: Int32 { exit.status }
    }

    /// Runs `executable` to the end, reading its piped outputs as they come (so a chatty child never
    /// blocks on a full pipe). After `timeout` seconds the child is killed (SIGKILL) and
    /// `timedOut` is set.
    public static func run(_ executable: String, _ arguments: [String] = [], directory: String? = nil,
                           environment: [String: String]? = nil, stdin: Stream = .null,
                           stdout: Stream = .pipe, stderr: Stream = .pipe, timeout: Double? = nil) throws -> Result {
        let child = try Subprocess(executable, arguments, directory: directory, environment: environment,
                                   stdin: stdin, stdout: stdout, stderr: stderr)
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var open = [child.outputFD, child.errorFD].compactMap { $0 }
        var collected: [Int32: Data] = [:]
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty {
            if let deadline, Date() >= deadline { timedOut = true; break }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 100)
            if ready < 0 { if errno == EINTR { continue }; break }
            for p in fds where p.revents != 0 {
                let n = read(p.fd, &buffer, buffer.count)
                if n > 0 { collected[p.fd, default: Data()].append(contentsOf: buffer[0..<n]) }
                else if n == 0 || (errno != EINTR && errno != EAGAIN) { open.removeAll { $0 == p.fd } }
            }
        }
        if timedOut { child.send(SIGKILL) }
        // Outputs drained (or given up): the child has closed them, so it ends or has ended.
        var exit = try child.wait(timeout: timedOut ? nil : timeout.map { max(1, $0) })
        if exit == nil { timedOut = true; child.send(SIGKILL); exit = try child.wait() }
        return Result(exit: exit!, stdout: child.outputFD.map { collected[$0] ?? Data() } ?? Data(),
                      stderr: child.errorFD.map { collected[$0] ?? Data() } ?? Data(), timedOut: timedOut)
    }
}
