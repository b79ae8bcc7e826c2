import CImage
import Foundation

/// Reads whole files through zlib: gzip files are inflated, plain files are returned as they are.
public enum GZip {
    /// The inflated bytes of `path`.
    public static func read(path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError.missing(path: path, hint: "file does not exist")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var len = 0
        var err = [CChar](repeating: 0, count: 512)
        let rc = ci_gunzip_file(path, &out, &len, &err, err.count)
        guard rc == 0, let out else {
            throw DatasetError.corrupt(path: path, message: String(cString: err))
        }
        defer { ci_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: len))
    }
}

/// An IDX array (the MNIST file format): unsigned bytes with their dimensions.
///
/// Layout: magic `00 00 08 D` (0x08 = unsigned byte, D = number of dimensions), then D big-endian
/// UInt32 sizes, then the data in row-major order. Only the unsigned-byte type is accepted,
/// which is what (Fashion-)MNIST uses.
public struct IDXArray {
    public let shape: [Int]
    public let data: [UInt8]

    /// Parses IDX bytes; `path` is for error messages. The data must exactly fill the shape.
    public init(bytes: [UInt8], path: String) throws {
        guard bytes.count >= 4 else {
            throw DatasetError.corrupt(path: path, message: "IDX file is \(bytes.count) bytes, too short for the magic number")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DatasetError.corrupt(path: path, message: "bad IDX magic \(bytes[0..<4].map { String($0, radix: 16) }) (expected 00 00 08 0D)")
        }
        guard bytes[2] == 0x08 else {
            throw DatasetError.corrupt(path: path, message: "IDX element type 0x\(String(bytes[2], radix: 16)) is not unsigned byte (0x08)")
        }
        let rank = Int(bytes[3])
        guard rank >= 1, bytes.count >= 4 + 4 * rank else {
            throw DatasetError.corrupt(path: path, message: "IDX header with \(rank) dimensions is truncated")
        }
        var shape: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            shape.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        let expected = shape.reduce(1, *)
        let have = bytes.count - 4 - 4 * rank
        guard have == expected else {
            throw DatasetError.corrupt(path: path, message: "IDX dims \(shape) need \(expected) bytes of data but the file has \(have)")
        }
        self.shape = shape
        self.data = Array(bytes[(4 + 4 * rank)...])
    }

    /// Reads a (gzipped) IDX file.
    public init(path: String) throws {
        try self.init(bytes: try GZip.read(path: path), path: path)
    }
}
