import Foundation

/// A picture drawn in a terminal: images (`show`), heatmaps and rendered figures in the REPL.
///
/// Pixel graphics where the terminal has them (`.kitty`, `.sixel`: TerminalPicture+Graphics.swift);
/// otherwise two modes of characters. `.truecolor`: every character cell is the upper-half block "▀" with the upper
/// pixel as foreground and the lower one as background colour (24-bit ANSI), so a cell holds two
/// square pixels. `.text`: the same cells as a luminance ramp " .:-=+*#%@" (dark → bright), for a
/// terminal without colour or output that is not a terminal at all. The picture is scaled down
/// (box filter) to at most `maxColumns` cells wide and never scaled up.
public struct TerminalPicture {
    public enum Mode: String, Sendable { case kitty, sixel, truecolor, text }

    /// Interleaved 8-bit pixels, row-major, `channels` 1 (gray) or 3 (RGB) per pixel.
    public let width: Int, height: Int, channels: Int
    public let pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, channels == 1 || channels == 3, pixels.count == width * height * channels else {
            throw PlotError.argument(op: "picture", message: "\(width)×\(height)×\(channels) pixels expected, got \(pixels.count) bytes")
        }
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    /// A heatmap of `values[row][column]` (rows top to bottom) in a viridis-like palette, each cell
    /// `cell` pixels square, scaled to the values' range.
    public init(heatmap values: [[Double]], cell: Int = 2) throws {
        let rows = values.count, cols = values.first?.count ?? 0
        guard rows > 0, cols > 0, values.allSatisfy({ $0.count == cols }) else {
            throw PlotError.argument(op: "picture", message: "a non-empty rectangular matrix expected")
        }
        let finite = values.joined().filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1, span = hi > lo ? hi - lo : 1
        var px = [UInt8](repeating: 0, count: rows * cell * cols * cell * 3)
        for r in 0..<rows * cell {
            for c in 0..<cols * cell {
                let v = values[r / cell][c / cell]
                let rgb = v.isFinite ? TerminalPicture.palette((v - lo) / span) : (255, 0, 255)
                let o = (r * cols * cell + c) * 3
                px[o] = rgb.0; px[o + 1] = rgb.1; px[o + 2] = rgb.2
            }
        }
        try self.init(width: cols * cell, height: rows * cell, channels: 3, pixels: px)
    }

    /// Viridis, piecewise linear through five of its colours; t in [0, 1].
    static func palette(_ t: Double) -> (UInt8, UInt8, UInt8) {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let x = Swift.min(1, Swift.max(0, t)) * Double(stops.count - 1)
        let i = Swift.min(stops.count - 2, Int(x)), f = x - Double(i)
        let a = stops[i], b = stops[i + 1]
        return (UInt8(a.0 + (b.0 - a.0) * f), UInt8(a.1 + (b.1 - a.1) * f), UInt8(a.2 + (b.2 - a.2) * f))
    }

    /// The picture as terminal text, at most `maxColumns` cells wide; every line ends in "\n".
    public func render(mode: Mode, maxColumns: Int = 80) -> String {
        if mode == .kitty { return kittyEscape(maxColumns: maxColumns) }
        if mode == .sixel { return sixelEscape(maxColumns: maxColumns) }
        // Box-filter down to the target size: one column per pixel, two pixel rows per line.
        let cols = Swift.max(1, Swift.min(width, maxColumns))
        let rowsPx = Swift.max(2, Int((Double(height) * Double(cols) / Double(width)).rounded()))
        let rows = rowsPx + rowsPx % 2
        func sample(_ x: Int, _ y: Int) -> (Double, Double, Double) {
            let x0 = x * width / cols, x1 = Swift.max(x0 + 1, (x + 1) * width / cols)
            let y0 = Swift.min(height - 1, y * height / rows), y1 = Swift.min(height, Swift.max(y0 + 1, (y + 1) * height / rows))
            var s = (0.0, 0.0, 0.0), n = 0.0
            for yy in y0..<y1 {
                for xx in x0..<x1 {
                    let o = (yy * width + xx) * channels
                    if channels == 1 { let v = Double(pixels[o]); s.0 += v; s.1 += v; s.2 += v } else {
                        s.0 += Double(pixels[o]); s.1 += Double(pixels[o + 1]); s.2 += Double(pixels[o + 2])
                    }
                    n += 1
                }
            }
            return (s.0 / n, s.1 / n, s.2 / n)
        }
        let ramp = Array(" .:-=+*#%@")
        var out = ""
        for line in 0..<(rows / 2) {
            for x in 0..<cols {
                let top = sample(x, 2 * line), bottom = sample(x, 2 * line + 1)
                switch mode {
                case .truecolor:
                    out += "\u{1B}[38;2;\(Int(top.0));\(Int(top.1));\(Int(top.2))m\u{1B}[48;2;\(Int(bottom.0));\(Int(bottom.1));\(Int(bottom.2))m▀"
                case .text, .kitty, .sixel:
                    // Rec. 601 luma of the cell's two pixels.
                    let luma = (0.299 * (top.0 + bottom.0) + 0.587 * (top.1 + bottom.1) + 0.114 * (top.2 + bottom.2)) / 510
                    out.append(ramp[Swift.min(ramp.count - 1, Int(luma * Double(ramp.count)))])
                }
            }
            out += mode == .truecolor ? "\u{1B}[0m\n" : "\n"
        }
        return out
    }

    /// The mode for a terminal: `SARDFQ_PICTURES` (`kitty`, `sixel`, `truecolor`, `text` or `off`)
    /// if set; else, when `isTerminal` and the terminal is not `dumb`, its pixel graphics
    /// (`graphics(environment:deviceAttributes:)`) or truecolor half blocks; text otherwise. nil means off.
    public static func mode(isTerminal: Bool, environment: [String: String] = ProcessInfo.processInfo.environment,
                            deviceAttributes: String? = nil) -> Mode? {
        switch environment["SARDFQ_PICTURES"] {
        case "off"?: return nil
        case let m? where Mode(rawValue: m) != nil: return Mode(rawValue: m)
        default: break
        }
        guard isTerminal, let term = environment["TERM"], !term.isEmpty, term != "dumb" else { return .text }
        return graphics(environment: environment, deviceAttributes: deviceAttributes) ?? .truecolor
    }
}
