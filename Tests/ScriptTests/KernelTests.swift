import Foundation
import Plot
import Testing

// The Jupyter kernel driven by Jupyter's own clients (Tests/KernelPeer/kernel_test.py, in the
// venv `make test` makes): the tutorial as a notebook through nbclient, then state, errors,
// completion, inspection and an interrupt through jupyter_client.

@Test(.timeLimit(.minutes(10)))
func jupyterClientsDriveTheKernel() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let python = ProcessInfo.processInfo.environment["SARDFQ_TEST_PYTHON"] ?? root.appendingPathComponent(".build/venv/bin/python").path
    guard FileManager.default.isExecutableFile(atPath: python) else {
        Issue.record("no Python with jupyter_client at \(python): `make test` makes .build/venv")
        return
    }
    let work = tempDir("kernel")
    defer { try? FileManager.default.removeItem(at: work) }
    let r = try Subprocess.run(python, [root.appendingPathComponent("Tests/KernelPeer/kernel_test.py").path, try sardfqBinary().path,
                                        root.appendingPathComponent("recipes").path, work.path],
                               directory: work.path, stderr: .output, timeout: 540)
    let log = String(decoding: r.stdout, as: UTF8.self)
    #expect(r.status == 0 && !r.timedOut && log.contains("kernel: all checks passed"), "\(log.suffix(3000))")
}
