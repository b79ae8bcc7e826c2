import CImage
import Foundation

/// An 8-bit RGB image, interleaved and row-major: `pixels[(y * width + x) * 3 + c]`.
public struct RGBImage: Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// Largest side accepted from a file, 2^15 px, and largest area, 2^26 px (64 Mpx, 192 MiB as
    /// RGB). Decision: ImageNet's largest image is about 5000 px a side and 20 Mpx; a 200-byte
    /// PNG can claim 10^6 x 1, whose eval resize would then need gigabytes. Checked on the file's
    /// header, before decoding; the resize targets are checked against the same bounds.
    public static let maxSide = 1 << 15
    public static let maxPixels = 1 << 26

    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        // Overflow-checked: a hostile width x height must fail here, not trap.
        let (area, o1) = width.multipliedReportingOverflow(by: height), (bytes, o2) = area.multipliedReportingOverflow(by: 3)
        guard width > 0, height > 0, !o1, !o2, pixels.count == bytes else {
            throw DatasetError.argument(op: "RGBImage", message: "\(pixels.count) bytes do not make a \(width)x\(height) RGB image")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Decodes a JPEG or PNG file to RGB (the format is told by the file's first bytes, not its
    /// name: ImageNet has PNG files named `.JPEG`). Gray becomes RGB, alpha is dropped, palettes
    /// are expanded, 16-bit samples keep their high byte; see `cimage.h`.
    public static func decode(path: String) throws -> RGBImage {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DatasetError.missing(path: path, hint: "cannot open image file")
        }
        return try decode(bytes: [UInt8](data), path: path, maxSide: maxSide, maxPixels: maxPixels)
    }

    /// Decodes JPEG or PNG bytes; `path` names them in errors. The size limits are checked on the
    /// header, before any pixel buffer exists.
    public static func decode(bytes: [UInt8], path: String, maxSide: Int = maxSide, maxPixels: Int = maxPixels) throws -> RGBImage {
        let isPNG = bytes.starts(with: [0x89, 0x50, 0x4E, 0x47])
        let isJPEG = bytes.starts(with: [0xFF, 0xD8])
        guard isPNG || isJPEG else {
            throw DatasetError.corrupt(path: path, message: "not a JPEG or PNG file (unknown signature)")
        }
        var w: Int32 = 0, h: Int32 = 0
        var out: UnsafeMutablePointer<UInt8>?
        var err = [CChar](repeating: 0, count: 512)
        let side = Int32(clamping: maxSide), area = Int64(maxPixels)
        let rc = bytes.withUnsafeBufferPointer { b in
            isPNG ? ci_png_decode(b.baseAddress, b.count, side, area, &w, &h, &out, &err, err.count)
                  : ci_jpeg_decode(b.baseAddress, b.count, side, area, &w, &h, &out, &err, err.count)
        }
        guard rc == 0, let out else {
            throw DatasetError.corrupt(path: path, message: String(cString: err))
        }
        defer { ci_free(out) }
        let n = Int(w) * Int(h) * 3
        return try RGBImage(width: Int(w), height: Int(h), pixels: Array(UnsafeBufferPointer(start: out, count: n)))
    }

    /// The `(x, y, width, height)` window of this image; parts outside are filled with zeros
    /// (torchvision's `center_crop` pads with black when the crop is larger than the image).
    public func crop(x: Int, y: Int, width cw: Int, height ch: Int) throws -> RGBImage {
        guard cw > 0, ch > 0 else {
            throw DatasetError.argument(op: "crop", message: "crop size must be positive, got \(cw)x\(ch)")
        }
        var out = [UInt8](repeating: 0, count: cw * ch * 3)
        let x0 = max(0, x), x1 = min(width, x + cw)
        if x1 > x0 {
            for oy in 0..<ch {
                let sy = y + oy
                guard sy >= 0 && sy < height else { continue }
                let srcStart = (sy * width + x0) * 3, dstStart = (oy * cw + (x0 - x)) * 3
                out.withUnsafeMutableBufferPointer { d in
                    pixels.withUnsafeBufferPointer { s in
                        (d.baseAddress! + dstStart).update(from: s.baseAddress! + srcStart, count: (x1 - x0) * 3)
                    }
                }
            }
        }
        return try RGBImage(width: cw, height: ch, pixels: out)
    }
}
