import Tensor

/// Renders a batch of images as one grid picture (e.g. synthetic calibration images).
public enum ImageGrid {
    /// The grid as 8-bit pixels: `images` `(N, C, H, W)` with C = 1 or 3, in normalized space,
    /// are denormalized (`v * std[c] + mean[c]`), clamped to [0, 1] and rounded to 0…255, laid
    /// out row by row in `columns` columns (default `ceil(sqrt(N))`), separated by `spacing`
    /// pixels of `background`, and upscaled by the integer `scale` (nearest neighbour, so
    /// pixels stay crisp). Returns `(width, height, channels, pixels)` interleaved row-major.
    public static func render(_ images: Tensor, mean: [Float], std: [Float], columns: Int? = nil,
                              scale: Int = 1, spacing: Int = 1, background: UInt8 = 255) throws
        -> (width: Int, height: Int, channels: Int, pixels: [UInt8])
    {
        guard images.rank == 4, images.shape[1] == 1 || images.shape[1] == 3, images.shape[0] > 0 else {
            throw PlotError.argument(op: "image grid", message: "expected (N, 1 or 3, H, W) images with N > 0, got \(shapeString(images.shape))")
        }
        let n = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3]
        guard mean.count == c, std.count == c else {
            throw PlotError.argument(op: "image grid", message: "mean/std need \(c) entries, got \(mean.count)/\(std.count)")
        }
        guard scale >= 1, spacing >= 0 else {
            throw PlotError.argument(op: "image grid", message: "scale must be >= 1 and spacing >= 0, got \(scale), \(spacing)")
        }
        var cols = columns ?? Int(Double(n).squareRoot().rounded(.up))
        cols = max(1, min(cols, n))
        let rows = (n + cols - 1) / cols
        let cw = w * scale, ch = h * scale
        let gw = cols * cw + (cols - 1) * spacing, gh = rows * ch + (rows - 1) * spacing
        var out = [UInt8](repeating: background, count: gw * gh * c)
        let src = images.ptr
        out.withUnsafeMutableBufferPointer { dst in
            let d = dst.baseAddress!
            Parallel.forEach(n) { i in
                let ox = (i % cols) * (cw + spacing), oy = (i / cols) * (ch + spacing)
                for ch0 in 0..<c {
                    let plane = src + (i * c + ch0) * h * w
                    let m = mean[ch0], s = std[ch0]
                    for y in 0..<h {
                        for x in 0..<w {
                            let raw = plane[y * w + x] * s + m
                            let v = raw.isNaN ? 0 : min(max(raw, 0), 1)  // NaN pixels show black
                            let byte = UInt8((v * 255).rounded())
                            for sy in 0..<scale {
                                let row = d + ((oy + y * scale + sy) * gw + ox + x * scale) * c + ch0
                                for sx in 0..<scale { row[sx * c] = byte }
                            }
                        }
                    }
                }
            }
        }
        return (gw, gh, c, out)
    }

    /// Renders the grid and writes it as a PNG (gray for 1 channel, RGB for 3), atomically.
    public static func write(_ images: Tensor, path: String, mean: [Float], std: [Float], columns: Int? = nil,
                             scale: Int = 1, spacing: Int = 1, background: UInt8 = 255) throws {
        let g = try render(images, mean: mean, std: std, columns: columns, scale: scale, spacing: spacing, background: background)
        try PNGFile.write(path: path, width: g.width, height: g.height, channels: g.channels, pixels: g.pixels)
    }
}
