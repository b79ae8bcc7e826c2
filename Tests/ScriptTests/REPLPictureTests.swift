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

/// Pixel graphics are chosen from what the terminal says of itself.
@Test func graphicsModesFromWhatTheTerminalSays() {
    let xterm = ["TERM": "xterm-256color"]
    #expect(TerminalPicture.mode(isTerminal: true, environment: ["TERM": "xterm-kitty"]) == .kitty)
    #expect(TerminalPicture.mode(isTerminal: true, environment: ["TERM": "xterm-256color", "KITTY_WINDOW_ID": "1"]) == .kitty)
    #expect(TerminalPicture.mode(isTerminal: true, environment: ["TERM": "xterm-256color", "TERM_PROGRAM": "WezTerm"]) == .kitty)
    #expect(TerminalPicture.mode(isTerminal: true, environment: xterm, deviceAttributes: "\u{1B}[?62;4;6;22c") == .sixel)
    #expect(TerminalPicture.mode(isTerminal: true, environment: xterm, deviceAttributes: "\u{1B}[?1;2c") == .truecolor)
    #expect(TerminalPicture.mode(isTerminal: true, environment: xterm, deviceAttributes: "\u{1B}[?4c") == .truecolor, "the first field is the class, not a feature")
    #expect(TerminalPicture.mode(isTerminal: true, environment: ["TERM": "foot"]) == .sixel)
    #expect(TerminalPicture.mode(isTerminal: false, environment: ["TERM": "xterm-kitty"]) == .text)
    #expect(TerminalPicture.mode(isTerminal: true, environment: ["TERM": "xterm", "SARDFQ_PICTURES": "sixel"]) == .sixel)
}

/// A 2×2 picture: black, white / red, blue.
private func corners() throws -> TerminalPicture {
    try TerminalPicture(width: 2, height: 2, channels: 3, pixels: [0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255])
}

@Test func kittyEscapeCarriesTheScaledPixels() throws {
    let out = try corners().render(mode: .kitty)
    // Scaled ×8 to 16×16 (at most 256 px, integer factor).
    #expect(out.hasPrefix("\u{1B}_Ga=T,f=24,s=16,v=16,q=2,m="))
    let chunks = out.dropLast().components(separatedBy: "\u{1B}\\").filter { !$0.isEmpty }
    let payload = chunks.map { String($0[$0.index(after: $0.firstIndex(of: ";")!)...]) }.joined()
    let bytes = try #require(Data(base64Encoded: payload))
    #expect(bytes.count == 16 * 16 * 3)
    #expect(Array(bytes.prefix(3)) == [0, 0, 0] && Array(bytes[(8 * 3)..<(8 * 3 + 3)]) == [255, 255, 255])
    #expect(Array(bytes[((15 * 16 + 15) * 3)...]) == [0, 0, 255], "the last pixel is blue")
}

/// Decodes the sixel image `sixelEscape` writes (palette, bands, `$`, `-`, `!n` repeats) back to RGB.
private func decodeSixel(_ s: String) throws -> (Int, Int, [[Int]]) {
    let body = Array(s.dropFirst(3))  // ESC P q
    var i = 0
    func number() -> Int { var n = 0; while i < body.count, let d = body[i].wholeNumberValue { n = n * 10 + d; i += 1 }; return n }
    guard body[i] == "\"" else { throw NSError(domain: "sixel", code: 1) }
    i += 1; _ = number(); i += 1; _ = number(); i += 1
    let w = number(); i += 1
    let h = number()
    var palette: [Int: [Int]] = [:], image = [[Int]](repeating: [-1, -1, -1], count: w * h)
    var colour = 0, x = 0, band = 0
    while i < body.count, body[i] != "\u{1B}" {
        let c = body[i]
        if c == "#" {
            i += 1; colour = number()
            if i < body.count, body[i] == ";" {
                i += 1; _ = number(); i += 1
                let r = number(); i += 1
                let g = number(); i += 1
                let b = number()
                palette[colour] = [r, g, b]
            }
            continue
        }
        if c == "$" { x = 0; i += 1; continue }
        if c == "-" { x = 0; band += 6; i += 1; continue }
        var count = 1
        if c == "!" { i += 1; count = number() }
        let bits = Int(body[i].asciiValue!) - 63
        for _ in 0..<count {
            for dy in 0..<6 where bits & (1 << dy) != 0 && band + dy < h { image[(band + dy) * w + x] = palette[colour]! }
            x += 1
        }
        i += 1
    }
    return (w, h, image)
}

@Test func sixelEscapeDecodesToThePicture() throws {
    let (w, h, image) = try decodeSixel(try corners().render(mode: .sixel))
    #expect(w == 16 && h == 16)
    #expect(image[0] == [0, 0, 0] && image[8] == [100, 100, 100] && image[8 * 16] == [100, 0, 0] && image[255] == [0, 0, 100])
    #expect(!image.contains([-1, -1, -1]), "every pixel is drawn")
}
