import Foundation
import Runtime

// Everything lives in Runtime so tests can drive the same code; this file only forwards.
// The interpreter recurses on nested expressions and calls, so it runs on a thread with a large
// stack (reserved, not committed) instead of the 8 MB main thread.
final class Status: @unchecked Sendable { var code: Int32 = 0 }
let status = Status()
let done = DispatchSemaphore(value: 0)
let arguments = Array(CommandLine.arguments.dropFirst())
let worker = Thread {
    status.code = CLI.main(arguments)
    done.signal()
}
worker.stackSize = 256 << 20
CLI.start(commandThread: worker)  // and this thread takes Ctrl-C (see there why)
done.wait()
exit(status.code)
