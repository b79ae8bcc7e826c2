import Foundation
import Testing
import Plot

// Pictures in the REPL (docs/scripting.md, "Pictures"): truecolor half blocks in a terminal, a text
// ramp when output is not one.

@Test func picturesRenderAsHalfBlocksOrText() throws {
    // 2×2 gray: black over white on the left, white over black on the right.
    let p = try TerminalPicture(width: 2, height: 2, channels: 1, pixels: [0, 255, 255, 0])
    #expect(p.render(mode: .truecolor) == "\u{1B}[38;2;0;0;0m\u{1B}[48;2;255;255;255m▀\u{1B}[38;2;255;255;255m\u{1B}[48;2;0;0;0m▀\u{1B}[0m\n")
    #expect(p.render(mode: .text) == "++\n")  // each cell is half black, half white
    // Scaled down to the width, never up; an odd height gets a last line.
    let wide = try TerminalPicture(width: 200, height: 10, channels: 3, pixels: [UInt8](repeating: 255, count: 6000))
    #expect(wide.render(mode: .text, maxColumns: 50).split(separator: "\n").map(\.count) == [50, 50])
    let heat = try TerminalPicture(heatmap: [[0, 1]], cell: 1)
    #expect(heat.render(mode: .truecolor).contains("38;2;68;1;84m") && heat.render(mode: .truecolor).contains("38;2;253;231;37m"))
    #expect(TerminalPicture.mode(isTerminal: true, environment: ["TERM": "xterm-256color"]) == .truecolor)
    #expect(TerminalPicture.mode(isTerminal: true, environment: ["TERM": "dumb"]) == .text)
    #expect(TerminalPicture.mode(isTerminal: false, environment: ["TERM": "xterm"]) == .text)
    #expect(TerminalPicture.mode(isTerminal: true, environment: ["TERM": "xterm", "SARDFQ_PICTURES": "off"]) == nil)
}

/// Runs a tmux client command. Its output goes to a file, not a pipe: `new-session` starts the
/// tmux server, which inherits the client's descriptors and would hold a pipe open for good.
private func tmux(_ args: [String]) -> (status: Int32, out: String) {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("tmux-out-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: file.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: file) }
    guard let r = try? Subprocess.run("/usr/bin/tmux", args, stdout: .file(file.path), stderr: .null, timeout: 30) else { return (-1, "") }
    return (r.status, (try? String(contentsOf: file, encoding: .utf8)) ?? "")
}

/// The REPL in a real terminal (a tmux pane): `show` and a heatmap value are drawn inline in 24-bit colour.
@Test func replDrawsPicturesInATerminal() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
        Issue.record("tmux is not installed (make deps installs it)")
        return
    }
    let dir = tempDir("repl-pictures")
    defer { try? FileManager.default.removeItem(at: dir) }
    let session = "sardfq-pictures-\(getpid())"
    let command = "cd \(dir.path) && env TERM=xterm-256color SARDFQ_CACHE=\(dir.path)/.cache \(try sardfqBinary().path)"
    #expect(tmux(["new-session", "-d", "-s", session, "-x", "100", "-y", "50", command]).status == 0)
    defer { _ = tmux(["kill-session", "-t", session]) }
    func pane(until needle: String) -> String {
        var text = ""
        for _ in 0..<150 {  // up to 30 s: a hang check, not a speed target
            text = tmux(["capture-pane", "-t", session, "-p", "-e"]).out
            if text.contains(needle) { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return text
    }
    #expect(pane(until: "dfq>").contains("dfq>"))
    _ = tmux(["send-keys", "-t", session, "let p = show(ones([1, 1, 4, 4]), path: \"white.png\")", "Enter"])
    let shown = pane(until: "▀")
    #expect(shown.contains("\u{1B}[38;2;") && shown.contains("\u{1B}[48;2;") && shown.contains("▀"), "\(shown.suffix(600))")
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("white.png").path), "the PNG is still written")
    _ = tmux(["send-keys", "-t", session, "heatmap(tensor([[0, 1], [1, 0]]))", "Enter"])
    let heat = pane(until: "38;2;253;231;37")
    #expect(heat.contains("38;2;253;231;37") && heat.contains("38;2;68;1;84"), "\(heat)")
}
