import Foundation

/// An error reading or writing a safetensors file. The description names the file and, when one
/// entry is at fault, the tensor key: `model.safetensors: tensor "blocks.0.attn.qkv.weight": …`.
public struct SafetensorsError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, mirroring the reference implementation's error kinds.
    public enum Kind: String, Equatable {
        case io                 // cannot open / read / write the file
        case headerTooSmall     // fewer than 8 bytes
        case headerTooLarge     // header length above the 100 MB the reference accepts
        case invalidHeaderLength // 8 + header length beyond the end of the file
        case invalidHeader      // not UTF-8, not a JSON object, or a malformed entry
        case unsupportedDtype   // dtype we cannot convert to Float32
        case invalidOffset      // offsets overlap, leave a gap, or run backwards
        case invalidTensorInfo  // byte size differs from product(shape) × dtype size
        case incompleteBuffer   // data section shorter or longer than the offsets cover
        case invalidArgument    // write: duplicate or reserved name
    }

    public let kind: Kind
    public let file: String
    public let key: String?
    public let message: String

    public init(_ kind: Kind, file: String, key: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String {
        var s = "\(file): safetensors: "
        if let key { s += "tensor \"\(key)\": " }
        return s + message
    }
}

/// The contents of a safetensors file: tensors in file order (by data offset, which for files we
/// write is the order they were given in) plus the `__metadata__` string map.
public struct SafetensorsFile {
    public var tensors: [(name: String, tensor: Tensor)]
    public var metadata: [String: String]
    /// The dtype each tensor had on disk (`"F32"`, `"BF16"`, …), by name.
    public var dtypes: [String: String]

    public init(tensors: [(name: String, tensor: Tensor)], metadata: [String: String], dtypes: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
        self.dtypes = dtypes
    }

    /// Tensor names in file order.
    public var names: [String] { tensors.map(\.name) }

    /// Looks a tensor up by name (linear scan; checkpoints have a few hundred entries).
    public subscript(name: String) -> Tensor? { tensors.first { $0.name == name }?.tensor }

    /// Name → tensor dictionary (order lost).
    public var dictionary: [String: Tensor] { Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a }) }
}

/// Reader and writer for the safetensors format (https://github.com/huggingface/safetensors):
/// `u64 little-endian header length N`, `N bytes of JSON header`, `data`. Validation follows the
/// reference Rust implementation: header length bounded by the file, header a JSON object whose
/// entries carry `dtype`, `shape` and `data_offsets`, entries sorted by offset contiguous from 0
/// with no gap or overlap, each byte size equal to product(shape) × dtype size, and the last
/// offset equal to the size of the data section.
///
/// Every dtype is converted to Float32 on read (F32, F16, BF16, F64 and the integer types, which
/// fixtures use for labels). We write F32 only, which is what our checkpoints hold.
public enum Safetensors {
    /// The reference implementation refuses headers above 100 MB.
    public static let maxHeaderSize = 100_000_000

    /// Bytes per element of each supported dtype.
    public static let dtypeSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2,
        "I64": 8, "I32": 4, "I16": 2, "I8": 1,
        "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
    ]

    /// Reads and validates a file; every tensor becomes Float32.
    public static func read(path: String) throws -> SafetensorsFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw SafetensorsError(.io, file: path, "cannot read file: \(error.localizedDescription)")
        }
        return try decode(data, file: path)
    }

    /// Validated header entry.
    struct Entry {
        let name: String
        let dtype: String
        let shape: [Int]
        let start: Int
        let end: Int
    }

    /// Decodes an in-memory safetensors buffer; `file` is only used in error messages.
    public static func decode(_ data: Data, file: String = "<memory>") throws -> SafetensorsFile {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> SafetensorsFile in
            let (entries, metadata, dataStart) = try parseHeader(raw, file: file)
            var tensors: [(name: String, tensor: Tensor)] = []
            tensors.reserveCapacity(entries.count)
            var dtypes: [String: String] = [:]
            for e in entries {
                let t = Tensor(uninitialized: e.shape)
                convert(raw.baseAddress! + dataStart + e.start, dtype: e.dtype, count: t.count, into: t.ptr)
                tensors.append((e.name, t))
                dtypes[e.name] = e.dtype
            }
            return SafetensorsFile(tensors: tensors, metadata: metadata, dtypes: dtypes)
        }
    }

    /// The first key that occurs twice at the top level of a JSON object (nil if none). Strings are
    /// scanned with their escapes; nested objects and arrays are skipped by depth.
    static func duplicateTopLevelKey(_ b: UnsafeBufferPointer<UInt8>) -> String? {
        var seen = Set<String>(), depth = 0, i = 0, expectKey = false
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                var j = i + 1, bytes: [UInt8] = []
                while j < b.count, b[j] != UInt8(ascii: "\"") {
                    if b[j] == UInt8(ascii: "\\"), j + 1 < b.count { bytes.append(b[j]); j += 1 }
                    bytes.append(b[j]); j += 1
                }
                if depth == 1 && expectKey {
                    let key = String(decoding: bytes, as: UTF8.self)
                    if !seen.insert(key).inserted { return key }
                    expectKey = false
                }
                i = j + 1
                continue
            }
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; if depth == 1 { expectKey = true }
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ","): if depth == 1 { expectKey = true }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// Parses and validates the header; returns entries sorted by offset, the metadata and the
    /// byte position where the data section starts.
    static func parseHeader(_ raw: UnsafeRawBufferPointer, file: String) throws -> ([Entry], [String: String], Int) {
        guard raw.count >= 8 else {
            throw SafetensorsError(.headerTooSmall, file: file, "file is \(raw.count) bytes, shorter than the 8-byte header length")
        }
        let n64 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard n64 <= UInt64(maxHeaderSize) else {
            throw SafetensorsError(.headerTooLarge, file: file, "header length \(n64) exceeds the \(maxHeaderSize)-byte limit")
        }
        let n = Int(n64)
        guard 8 + n <= raw.count else {
            throw SafetensorsError(.invalidHeaderLength, file: file,
                                   "header length \(n) runs past the end of the \(raw.count)-byte file (truncated?)")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: raw[8 ..< 8 + n])
        guard let text = String(validating: headerBytes.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw SafetensorsError(.invalidHeader, file: file, "header is not valid UTF-8")
        }
        guard text.first == "{" else {
            throw SafetensorsError(.invalidHeader, file: file, "header does not start with '{'")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [])
        } catch {
            throw SafetensorsError(.invalidHeader, file: file, "header is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = json as? [String: Any] else {
            throw SafetensorsError(.invalidHeader, file: file, "header is not a JSON object")
        }
        // JSON parsers keep one of two equal keys silently; the reference refuses the header.
        if let dup = duplicateTopLevelKey(headerBytes.bindMemory(to: UInt8.self)) {
            throw SafetensorsError(.invalidHeader, file: file, key: dup, "the header names '\(dup)' twice")
        }

        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw SafetensorsError(.invalidHeader, file: file, key: name, "__metadata__ must be an object of strings")
                }
                for (k, v) in m {
                    guard let s = v as? String else {
                        throw SafetensorsError(.invalidHeader, file: file, key: name, "__metadata__ value for \"\(k)\" is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try parseEntry(name: name, value, file: file))
        }
        // Validate like the reference: sort by offsets, then walk them contiguously from 0.
        entries.sort { ($0.start, $0.end) < ($1.start, $1.end) }
        var position = 0
        for e in entries {
            guard e.start == position, e.end >= e.start else {
                let why = e.start < position ? "overlaps the previous tensor (which ends at \(position))"
                    : e.start > position ? "leaves a gap after offset \(position)"
                    : "ends before it starts"
                throw SafetensorsError(.invalidOffset, file: file, key: e.name,
                                       "data_offsets [\(e.start), \(e.end)] \(why)")
            }
            let (elements, overflow1) = e.shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            let (bytes, overflow2) = elements.multipliedReportingOverflow(by: dtypeSizes[e.dtype]!)
            guard !overflow1, !overflow2, bytes == e.end - e.start else {
                throw SafetensorsError(.invalidTensorInfo, file: file, key: e.name,
                                       "shape \(shapeString(e.shape)) of \(e.dtype) needs \(overflow1 || overflow2 ? "too many" : String(bytes)) bytes but data_offsets [\(e.start), \(e.end)] hold \(e.end - e.start)")
            }
            position = e.end
        }
        let dataBytes = raw.count - 8 - n
        guard position == dataBytes else {
            throw SafetensorsError(.incompleteBuffer, file: file,
                                   "tensors cover \(position) bytes but the data section has \(dataBytes) (truncated or trailing bytes)")
        }
        return (entries, metadata, 8 + n)
    }

    static func parseEntry(name: String, _ value: Any, file: String) throws -> Entry {
        guard let info = value as? [String: Any] else {
            throw SafetensorsError(.invalidHeader, file: file, key: name, "entry is not a JSON object")
        }
        guard let dtype = info["dtype"] as? String else {
            throw SafetensorsError(.invalidHeader, file: file, key: name, "missing or non-string \"dtype\"")
        }
        guard dtypeSizes[dtype] != nil else {
            throw SafetensorsError(.unsupportedDtype, file: file, key: name,
                                   "dtype \(dtype) is not supported (supported: \(dtypeSizes.keys.sorted().joined(separator: ", ")))")
        }
        guard let shapeAny = info["shape"] as? [Any], let shape = nonNegativeInts(shapeAny) else {
            throw SafetensorsError(.invalidHeader, file: file, key: name, "\"shape\" must be a list of non-negative integers")
        }
        guard let offAny = info["data_offsets"] as? [Any], let offs = nonNegativeInts(offAny), offs.count == 2 else {
            throw SafetensorsError(.invalidHeader, file: file, key: name, "\"data_offsets\" must be two non-negative integers")
        }
        return Entry(name: name, dtype: dtype, shape: shape, start: offs[0], end: offs[1])
    }

    /// JSON integers as Ints, refusing fractions, exponents, negatives, booleans and strings
    /// (serde's `usize`, which the reference deserialises into, refuses the same).
    static func nonNegativeInts(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            guard let num = v as? NSNumber else { return nil }
            // Foundation boxes JSON true/false as char-typed NSNumbers and non-integers as doubles.
            let code = String(cString: num.objCType)
            guard ["i", "q", "l", "s", "I", "Q", "L", "S"].contains(code), num.int64Value >= 0 else { return nil }
            out.append(num.intValue)
        }
        return out
    }

    /// Converts `count` little-endian elements of `dtype` to Float32.
    static func convert(_ src: UnsafeRawPointer, dtype: String, count: Int, into dst: UnsafeMutablePointer<Float>) {
        switch dtype {
        case "F32":
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case "F16":
            for i in 0 ..< count { dst[i] = halfToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case "BF16":
            for i in 0 ..< count {
                dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        case "F64": for i in 0 ..< count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        case "I64": for i in 0 ..< count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
        case "I32": for i in 0 ..< count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case "I16": for i in 0 ..< count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
        case "I8": for i in 0 ..< count { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
        case "U64": for i in 0 ..< count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        case "U32": for i in 0 ..< count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        case "U16": for i in 0 ..< count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case "U8", "BOOL": for i in 0 ..< count { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
        default: preconditionFailure("dtype \(dtype) passed validation but has no converter")
        }
    }

    /// IEEE 754 binary16 → binary32, exact (including subnormals, infinities and NaN payloads).
    @inline(__always) public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int(h >> 10) & 0x1f
        let mant = UInt32(h & 0x3ff)
        if exp == 0 {
            // Zero or subnormal: mant × 2^-24, exact in Float.
            let v = Float(mant) * (1.0 / 16_777_216.0)
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | UInt32(exp + 112) << 23 | (mant << 13))
    }

    // MARK: - Writing

    /// Serialises tensors (as F32, in the given order) and metadata to a safetensors buffer.
    /// The header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
    public static func encode(tensors: [(String, Tensor)], metadata: [String: String] = [:], file: String = "<memory>") throws -> Data {
        var seen = Set<String>()
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let items = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            parts.append("\"__metadata__\":{" + items.joined(separator: ",") + "}")
        }
        var offset = 0
        for (name, t) in tensors {
            guard name != "__metadata__" else {
                throw SafetensorsError(.invalidArgument, file: file, key: name, "the name __metadata__ is reserved")
            }
            guard seen.insert(name).inserted else {
                throw SafetensorsError(.invalidArgument, file: file, key: name, "duplicate tensor name")
            }
            let bytes = t.count * 4
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += parts.joined(separator: ",") + "}"
        var headerData = Data(header.utf8)
        while headerData.count % 8 != 0 { headerData.append(0x20) }

        var out = Data(capacity: 8 + headerData.count + offset)
        var n = UInt64(headerData.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(headerData)
        for (_, t) in tensors {
            out.append(UnsafeBufferPointer(start: t.ptr, count: t.count))
        }
        return out
    }

    /// Writes tensors (F32, in the given order) and metadata atomically: a temporary file in the
    /// same directory is written in full, then renamed over `path`, so readers never see half a file.
    public static func write(path: String, tensors: [(String, Tensor)], metadata: [String: String] = [:]) throws {
        let data = try encode(tensors: tensors, metadata: metadata, file: path)
        try writeAtomically(data, to: path)
    }

    /// Writes `data` to a temporary sibling of `path` and renames it into place.
    static func writeAtomically(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw SafetensorsError(.io, file: path, "directory \(dir) does not exist")
        }
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-" + ProcessInfo.processInfo.globallyUniqueString
        do {
            try data.write(to: URL(fileURLWithPath: tmp))
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw SafetensorsError(.io, file: path, "cannot write: \(error.localizedDescription)")
        }
        guard rename(tmp, path) == 0 else {
            let msg = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw SafetensorsError(.io, file: path, "cannot rename temporary file into place: \(msg)")
        }
    }

    /// A JSON string literal with the escapes JSON requires.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
