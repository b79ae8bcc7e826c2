import CImage
import Foundation

/// Reads whole files through zlib: gzip files are inflated, plain files are returned as they are.
public enum GZip {
    /// Inflated size accepted when the caller states no bound: 1 GiB, twenty times the largest
    /// file the project reads (Fashion-MNIST's train images, 47 MB inflated).
    public static let defaultLimit = 1 << 30

    /// The inflated bytes of `path`; a stream inflating past `limit` bytes (a gzip bomb) is
    /// refused once `limit + 1` bytes are out, without inflating the rest.
    public static func read(path: String, limit: Int = defaultLimit) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError.missing(path: path, hint: "file does not exist")
        }
        var out: UnsafeMutablePointer<UInt8>?
        var len = 0
        var err = [CChar](repeating: 0, count: 512)
        let rc = ci_gunzip_file(path, max(0, limit), &out, &len, &err, err.count)
        guard rc == 0, let out else {
            throw DatasetError.corrupt(path: path, message: String(cString: err))
        }
        defer { ci_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: len))
    }

    /// At most the first `count` inflated bytes of `path` (e.g. a header stating the size).
    public static func readPrefix(path: String, count: Int) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError.missing(path: path, hint: "file does not exist")
        }
        var buf = [UInt8](repeating: 0, count: count)
        var got = 0
        var err = [CChar](repeating: 0, count: 512)
        let rc = buf.withUnsafeMutableBufferPointer { ci_gunzip_prefix(path, $0.baseAddress, count, &got, &err, err.count) }
        guard rc == 0 else { throw DatasetError.corrupt(path: path, message: String(cString: err)) }
        return Array(buf[..<got])
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

    /// Largest data an IDX file may state, 2^30 bytes: the header's dimensions are checked
    /// against it (and against the bytes really present) before anything is allocated.
    public static let maxDataBytes = 1 << 30

    /// The shape and data size a header states. `prefix` holds at least the header's bytes
    /// (or the whole file, if shorter). Products are overflow-checked: four UInt32 dimensions can
    /// multiply past Int.max.
    static func header(_ prefix: [UInt8], path: String) throws -> (shape: [Int], headerBytes: Int, dataBytes: Int) {
        guard prefix.count >= 4 else {
            throw DatasetError.corrupt(path: path, message: "IDX file is \(prefix.count) bytes, too short for the magic number")
        }
        guard prefix[0] == 0, prefix[1] == 0 else {
            throw DatasetError.corrupt(path: path, message: "bad IDX magic \(prefix[0..<4].map { String($0, radix: 16) }) (expected 00 00 08 0D)")
        }
        guard prefix[2] == 0x08 else {
            throw DatasetError.corrupt(path: path, message: "IDX element type 0x\(String(prefix[2], radix: 16)) is not unsigned byte (0x08)")
        }
        let rank = Int(prefix[3])
        guard rank >= 1, prefix.count >= 4 + 4 * rank else {
            throw DatasetError.corrupt(path: path, message: "IDX header with \(rank) dimensions is truncated")
        }
        var shape: [Int] = []
        var n = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let dim = Int(prefix[o]) << 24 | Int(prefix[o + 1]) << 16 | Int(prefix[o + 2]) << 8 | Int(prefix[o + 3])
            shape.append(dim)
            let (m, overflow) = n.multipliedReportingOverflow(by: dim)
            n = overflow ? Int.max : m
        }
        guard n <= maxDataBytes else {
            throw DatasetError.corrupt(path: path, message: "IDX dims \(shape) state \(n == Int.max ? "more than 2^63" : String(n)) bytes of data, "
                + "over the \(maxDataBytes)-byte limit")
        }
        return (shape, 4 + 4 * rank, n)
    }

    /// Parses IDX bytes; `path` is for error messages. The data must exactly fill the shape.
    public init(bytes: [UInt8], path: String) throws {
        let (shape, head, expected) = try IDXArray.header(bytes, path: path)
        let have = bytes.count - head
        guard have == expected else {
            throw DatasetError.corrupt(path: path, message: "IDX dims \(shape) need \(expected) bytes of data but the file has \(have)")
        }
        self.shape = shape
        self.data = Array(bytes[head...])
    }

    /// Reads a (gzipped) IDX file. The header is inflated first; the rest is inflated with
    /// the size it states as the bound, so a gzip bomb stops one byte past what the header
    /// promised instead of after gigabytes.
    public init(path: String) throws {
        let (_, head, expected) = try IDXArray.header(try GZip.readPrefix(path: path, count: 4 + 4 * 255), path: path)
        try self.init(bytes: try GZip.read(path: path, limit: head + expected), path: path)
    }
}
