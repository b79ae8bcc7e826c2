import Foundation

/// Interpolation filters of Pillow's `Image.resize`, with their support (radius) in pixels.
public enum ResampleFilter: String, CaseIterable {
    case bilinear, bicubic

    /// Support of the kernel at scale 1 (Pillow: BILINEAR 1.0, BICUBIC 2.0).
    var support: Double { self == .bilinear ? 1 : 2 }

    /// The kernel, evaluated in Double exactly as Pillow's `Resample.c` does.
    @inline(__always) func weight(_ t: Double) -> Double {
        let x = abs(t)
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            // Keys' cubic convolution with a = -0.5 (Pillow's choice; PyTorch uses -0.75).
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// Pillow-compatible antialiased resampling of 8-bit images (`PIL.Image.resize` without
/// `reducing_gap`, which is what torchvision's `Resize` on a PIL image calls).
///
/// A port of Pillow's `ImagingResample` (src/libImaging/Resample.c): separable convolution,
/// horizontal pass first, with the kernel support multiplied by the downscale factor (so
/// downscaling averages every source pixel: antialiasing); weights normalised to sum 1 in double,
/// then quantised to fixed point with 22 fraction bits; each pass accumulates in integers from
/// a rounding bias of 2^21, and clamps and truncates to uint8 — including between the two passes,
/// as Pillow stores the intermediate image as 8-bit. Tests compare against Pillow's output.
public enum Resample {
    static let precisionBits = 32 - 8 - 2

    /// Per-output-pixel source windows and fixed-point weights for one axis.
    struct Coefficients {
        let ksize: Int
        /// `(xmin, count)` per output pixel.
        var bounds: [Int]
        /// `ksize` fixed-point weights per output pixel.
        var weights: [Int32]
    }

    /// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`, for the box `[0, inSize)`.
    static func coefficients(inSize: Int, outSize: Int, filter: ResampleFilter) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let ksize = Int(ceil(support)) * 2 + 1
        var bounds = [Int](repeating: 0, count: outSize * 2)
        var weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        let ss = 1 / filterScale
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            // C's (int) cast truncates toward zero; Swift's Int(Double) does the same.
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var ww = 0.0
            for x in 0..<xmax {
                let w = filter.weight((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                ww += w
            }
            for x in 0..<ksize {
                var v = x < xmax ? k[x] : 0
                if x < xmax && ww != 0 { v /= ww }
                let fixed = v * Double(1 << precisionBits)
                weights[xx * ksize + x] = Int32(v < 0 ? Int(-0.5 + fixed) : Int(0.5 + fixed))
            }
            bounds[xx * 2] = xmin
            bounds[xx * 2 + 1] = xmax
        }
        return Coefficients(ksize: ksize, bounds: bounds, weights: weights)
    }

    /// Pillow's `clip8`: fixed-point sum to uint8 with clamping.
    @inline(__always) static func clip8(_ v: Int32) -> UInt8 {
        if v >= Int32(1 << (precisionBits + 8)) { return 255 }
        if v <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: v >> Int32(precisionBits))
    }

    /// Resizes an RGB image to `width × height` like `PIL.Image.resize((width, height), filter)`.
    public static func resize(_ image: RGBImage, width: Int, height: Int, filter: ResampleFilter = .bicubic) throws -> RGBImage {
        guard width > 0, height > 0 else {
            throw DatasetError.argument(op: "resize", message: "target size must be positive, got \(width)x\(height)")
        }
        // Both passes' outputs (width x image.height, then width x height) within RGBImage's
        // bounds, checked before allocating: a 2 x 50 000 image resized to a short side of 256
        // would need 5 GB.
        for (w, h) in [(width, image.height), (width, height)] {
            let (area, overflow) = w.multipliedReportingOverflow(by: h)
            guard w <= RGBImage.maxSide, h <= RGBImage.maxSide, !overflow, area <= RGBImage.maxPixels else {
                throw DatasetError.argument(op: "resize", message: "resizing \(image.width)x\(image.height) to \(width)x\(height) "
                    + "needs a \(w)x\(h) image, over the limit of a side of \(RGBImage.maxSide) and \(RGBImage.maxPixels) pixels")
            }
        }
        var img = image
        if width != img.width { img = try horizontal(img, outWidth: width, filter: filter) }
        if height != img.height { img = try vertical(img, outHeight: height, filter: filter) }
        return img
    }

    static func horizontal(_ img: RGBImage, outWidth: Int, filter: ResampleFilter) throws -> RGBImage {
        let c = coefficients(inSize: img.width, outSize: outWidth, filter: filter)
        let h = img.height, inW = img.width, ksize = c.ksize
        var out = [UInt8](repeating: 0, count: outWidth * h * 3)
        let half = Int32(1 << (precisionBits - 1))
        img.pixels.withUnsafeBufferPointer { src in
            c.weights.withUnsafeBufferPointer { kk in
                c.bounds.withUnsafeBufferPointer { bounds in
                    out.withUnsafeMutableBufferPointer { dst in
                        let s = src.baseAddress!, d = dst.baseAddress!, kp = kk.baseAddress!, bp = bounds.baseAddress!
                        for y in 0..<h {
                            let srow = s + y * inW * 3
                            let drow = d + y * outWidth * 3
                            for xx in 0..<outWidth {
                                let xmin = bp[2 * xx], n = bp[2 * xx + 1]
                                let k = kp + xx * ksize
                                let p = srow + xmin * 3
                                // Int32 with wrapping ops, as Pillow's INT32 accumulators (no overflow
                                // occurs: |weights| sum to well under 2^31 / 255).
                                var s0 = half, s1 = half, s2 = half
                                for x in 0..<n {
                                    let w = k[x]
                                    s0 &+= Int32(p[3 * x]) &* w
                                    s1 &+= Int32(p[3 * x + 1]) &* w
                                    s2 &+= Int32(p[3 * x + 2]) &* w
                                }
                                drow[xx * 3] = clip8(s0)
                                drow[xx * 3 + 1] = clip8(s1)
                                drow[xx * 3 + 2] = clip8(s2)
                            }
                        }
                    }
                }
            }
        }
        return try RGBImage(width: outWidth, height: h, pixels: out)
    }

    static func vertical(_ img: RGBImage, outHeight: Int, filter: ResampleFilter) throws -> RGBImage {
        let c = coefficients(inSize: img.height, outSize: outHeight, filter: filter)
        let rowLen = img.width * 3
        var out = [UInt8](repeating: 0, count: rowLen * outHeight)
        let half = Int32(1 << (precisionBits - 1))
        var acc = [Int32](repeating: 0, count: rowLen)
        img.pixels.withUnsafeBufferPointer { src in
            c.weights.withUnsafeBufferPointer { kk in
                c.bounds.withUnsafeBufferPointer { bounds in
                    out.withUnsafeMutableBufferPointer { dst in
                        acc.withUnsafeMutableBufferPointer { accBuf in
                            let a = accBuf.baseAddress!, s = src.baseAddress!, d = dst.baseAddress!
                            for yy in 0..<outHeight {
                                let ymin = bounds[2 * yy], n = bounds[2 * yy + 1]
                                let k = kk.baseAddress! + yy * c.ksize
                                // Row-wise accumulation (vectorises); same sums as Pillow's per-pixel loop.
                                a.update(repeating: half, count: rowLen)
                                for y in 0..<n {
                                    let w = k[y]
                                    let srow = s + (y + ymin) * rowLen
                                    for i in 0..<rowLen { a[i] &+= Int32(srow[i]) &* w }
                                }
                                let drow = d + yy * rowLen
                                for i in 0..<rowLen { drow[i] = clip8(a[i]) }
                            }
                        }
                    }
                }
            }
        }
        return try RGBImage(width: img.width, height: outHeight, pixels: out)
    }
}
