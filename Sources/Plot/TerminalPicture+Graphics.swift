import Foundation

/// Pixel graphics for terminals that have them: the kitty graphics protocol and DEC sixel.
///
/// Both draw real pixels, so a picture is scaled by an integer factor (nearest neighbour) to
/// about 256 pixels wide, never past `maxColumns` × 8 pixels (a cell is about 8 pixels wide),
/// and shrunk by an integer stride when larger.
extension TerminalPicture {
    /// The picture scaled for pixel output: (width, height, RGB pixels).
    func pixelsForGraphics(maxColumns: Int) -> (Int, Int, [UInt8]) {
        let limit = Swift.max(16, maxColumns * 8)
        let up = Swift.max(1, Swift.min(8, 256 / width, limit / width))
        let down = width > limit ? (width + limit - 1) / limit : 1
        let w = width * up / down, h = height * up / down
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let sx = Swift.min(width - 1, x * down / up), sy = Swift.min(height - 1, y * down / up)
                let o = (sy * width + sx) * channels, t = (y * w + x) * 3
                if channels == 1 { rgb[t] = pixels[o]; rgb[t + 1] = pixels[o]; rgb[t + 2] = pixels[o] } else {
                    rgb[t] = pixels[o]; rgb[t + 1] = pixels[o + 1]; rgb[t + 2] = pixels[o + 2]
                }
            }
        }
        return (w, h, rgb)
    }

    /// The kitty graphics protocol: 24-bit RGB (`f=24`), transmitted and displayed at once
    /// (`a=T`), base64 in chunks of 4096 characters (`m=1` on all but the last).
    func kittyEscape(maxColumns: Int) -> String {
        let (w, h, rgb) = pixelsForGraphics(maxColumns: maxColumns)
        let payload = Array(Data(rgb).base64EncodedString())
        var out = "", first = true, start = 0
        repeat {
            let end = Swift.min(payload.count, start + 4096)
            let more = end < payload.count ? 1 : 0
            out += "\u{1B}_G" + (first ? "a=T,f=24,s=\(w),v=\(h),q=2," : "") + "m=\(more);" + String(payload[start..<end]) + "\u{1B}\\"
            first = false
            start = end
        } while start < payload.count
        return out + "\n"
    }

    /// DEC sixel: colours quantized to the 6×6×6 cube (only the ones used are defined), six pixel
    /// rows a band, each colour's run-length encoded row of sixels, `$` back to the band start,
    /// `-` to the next band.
    func sixelEscape(maxColumns: Int) -> String {
        let (w, h, rgb) = pixelsForGraphics(maxColumns: maxColumns)
        func level(_ v: UInt8) -> Int { (Int(v) * 6) / 256 }
        var index = [Int](repeating: 0, count: w * h)
        var used = Set<Int>()
        for i in 0..<(w * h) {
            let c = level(rgb[3 * i]) * 36 + level(rgb[3 * i + 1]) * 6 + level(rgb[3 * i + 2])
            index[i] = c
            used.insert(c)
        }
        var out = "\u{1B}Pq\"1;1;\(w);\(h)"
        for c in used.sorted() {
            let pct = { (l: Int) in (l * 100 + 2) / 5 }  // level 0…5 → 0…100 %
            out += "#\(c);2;\(pct(c / 36));\(pct(c / 6 % 6));\(pct(c % 6))"
        }
        for band in stride(from: 0, to: h, by: 6) {
            var colours = Set<Int>()
            for y in band..<Swift.min(h, band + 6) { for x in 0..<w { colours.insert(index[y * w + x]) } }
            for (k, c) in colours.sorted().enumerated() {
                if k > 0 { out += "$" }
                out += "#\(c)"
                var run = 0, last: Character = "?"
                func flush() {
                    guard run > 0 else { return }
                    out += run > 3 ? "!\(run)\(last)" : String(repeating: last, count: run)
                }
                for x in 0..<w {
                    var bits = 0
                    for dy in 0..<6 where band + dy < h && index[(band + dy) * w + x] == c { bits |= 1 << dy }
                    let ch = Character(UnicodeScalar(UInt8(63 + bits)))
                    if ch == last { run += 1 } else { flush(); last = ch; run = 1 }
                }
                flush()
            }
            out += "-"
        }
        return out + "\u{1B}\\\n"
    }

    /// The graphics protocol a terminal supports, from what it says of itself: the kitty protocol
    /// for kitty (`TERM=xterm-kitty` or `KITTY_WINDOW_ID`), WezTerm and Ghostty (`TERM_PROGRAM`);
    /// sixel when its device attributes (the answer to `ESC [ c`) list 4, or for `TERM` foot,
    /// mlterm, contour or any `*-sixel`. nil: no pixel graphics (half blocks are used).
    public static func graphics(environment: [String: String], deviceAttributes: String?) -> Mode? {
        let term = environment["TERM"] ?? ""
        if term == "xterm-kitty" || environment["KITTY_WINDOW_ID"] != nil
            || ["WezTerm", "ghostty"].contains(environment["TERM_PROGRAM"] ?? "") {
            return .kitty
        }
        if let da = deviceAttributes, let q = da.range(of: "[?"), da.hasSuffix("c") {
            let fields = da[q.upperBound...].dropLast().split(separator: ";")
            if fields.dropFirst().contains("4") { return .sixel }
        }
        if ["foot", "foot-extra", "mlterm", "contour"].contains(term) || term.hasSuffix("-sixel") { return .sixel }
        return nil
    }
}
