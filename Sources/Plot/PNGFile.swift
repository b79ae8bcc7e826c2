import CImage
import Foundation

/// Writes 8-bit PNG files through libpng.
public enum PNGFile {
    /// Writes `pixels` (interleaved, row-major, `width * height * channels` bytes; channels 1 =
    /// gray, 3 = RGB, 4 = RGBA) to `path` atomically.
    public static func write(path: String, width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        guard [1, 3, 4].contains(channels) else {
            throw PlotError.argument(op: "PNG", message: "channels must be 1, 3 or 4, got \(channels)")
        }
        guard width > 0, height > 0, pixels.count == width * height * channels else {
            throw PlotError.argument(op: "PNG", message: "\(pixels.count) bytes do not make a \(width)x\(height)x\(channels) image")
        }
        try AtomicFile.ensureDirectory(for: path)
        let tmp = AtomicFile.temporaryPath(for: path)
        var err = [CChar](repeating: 0, count: 512)
        let rc = pixels.withUnsafeBufferPointer {
            ci_png_write_file(tmp, Int32(width), Int32(height), Int32(channels), $0.baseAddress, &err, err.count)
        }
        guard rc == 0 else {
            try? FileManager.default.removeItem(atPath: tmp)
            throw PlotError.io(path: path, message: String(cString: err))
        }
        try AtomicFile.commit(temporary: tmp, to: path)
    }
}
