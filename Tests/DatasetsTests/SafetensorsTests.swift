import Foundation
import Testing
@testable import Tensor

/// A raw safetensors buffer from a header string and data bytes (for hand-made corruptions).
private func rawFile(header: String, data: [UInt8], headerLength: UInt64? = nil) -> Data {
    var out = Data()
    var n = (headerLength ?? UInt64(header.utf8.count)).littleEndian
    withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
    out.append(Data(header.utf8))
    out.append(contentsOf: data)
    return out
}

/// Decodes `data` written to a file and returns the error it throws.
private func errorFor(_ data: Data, _ name: String) throws -> SafetensorsError {
    let dir = try makeTempDir("st")
    defer { cleanup(dir) }
    let path = dir + "/" + name
    try data.write(to: URL(fileURLWithPath: path))
    do {
        _ = try Safetensors.read(path: path)
    } catch let e as SafetensorsError {
        #expect(e.description.contains(path), "error should name the file: \(e)")
        return e
    }
    Issue.record("\(name): expected an error")
    return SafetensorsError(.io, file: path, "no error")
}

@Suite struct SafetensorsTests {
    @Test func roundTripPreservesOrderValuesAndMetadata() throws {
        let dir = try makeTempDir("st")
        defer { cleanup(dir) }
        let path = dir + "/model.safetensors"
        var rng = RNG(seed: 7)
        let w = Tensor.normal([3, 5], rng: &rng)
        let b = try Tensor(shape: [5], [1, -2, 3.5, 0, 1e-8])
        let s = Tensor(scalar: 42)
        let empty = Tensor.zeros([0, 4])
        // Deliberately not alphabetical: order must survive.
        let entries: [(String, Tensor)] = [("z.weight", w), ("a.bias", b), ("m.scale", s), ("empty", empty)]
        try Safetensors.write(path: path, tensors: entries, metadata: ["arch": "vit-s", "note": "quote \" and \\ ok"])
        let f = try Safetensors.read(path: path)
        #expect(f.names == ["z.weight", "a.bias", "m.scale", "empty"])
        #expect(f.metadata == ["arch": "vit-s", "note": "quote \" and \\ ok"])
        #expect(f["z.weight"]?.shape == [3, 5])
        #expect(f["z.weight"]?.array == w.array)
        #expect(f["a.bias"]?.array == b.array)
        #expect(f["m.scale"]?.shape == [])
        #expect(f["m.scale"]?.item == 42)
        #expect(f["empty"]?.shape == [0, 4])
        #expect(f.dtypes["a.bias"] == "F32")
        // Header is padded to a multiple of 8, and no temporary file is left behind.
        let raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let n = raw[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(n % 8 == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.safetensors"])
    }

    @Test func decodesF16AndBF16KnownValues() throws {
        // F16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), 0.333251953125, +inf, -0.
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3555, 0x7C00, 0x8000]
        // BF16: 1, -3.140625, 3.140625, 1.5e-38-ish subnormal-free value 2^-126.
        let bf16: [UInt16] = [0x3F80, 0xC049, 0x4049, 0x0080]
        var bytes: [UInt8] = []
        for v in f16 + bf16 { bytes += [UInt8(v & 0xff), UInt8(v >> 8)] }
        // I64 labels too (fixtures store labels that way).
        for v: Int64 in [3, -1] { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        let header = #"{"h":{"dtype":"F16","shape":[7],"data_offsets":[0,14]},"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[14,22]},"l":{"dtype":"I64","shape":[2],"data_offsets":[22,38]}}"#
        let f = try Safetensors.decode(rawFile(header: header, data: bytes))
        let h = try #require(f["h"]).array
        #expect(Array(h[0..<5]) == [1, -2, 65504, Float(pow(2.0, -24.0)), 0.333251953125])
        #expect(h[5] == .infinity)
        #expect(h[6] == 0 && h[6].sign == .minus)
        #expect(try #require(f["b"]).array == [1, -3.140625, 3.140625, Float(pow(2.0, -126.0))])
        #expect(try #require(f["b"]).shape == [2, 2])
        #expect(try #require(f["l"]).array == [3, -1])
        #expect(f.names == ["h", "b", "l"], "file order is offset order")
        #expect(f.dtypes == ["h": "F16", "b": "BF16", "l": "I64"])
    }

    @Test func halfConversionMatchesFloat16() {
        // Exhaustive: every finite binary16 pattern agrees with Swift's Float16.
        for bits in UInt16.min...UInt16.max {
            let ours = Safetensors.halfToFloat(bits)
            let ref = Float(Float16(bitPattern: bits))
            if ref.isNaN { #expect(ours.isNaN) } else if ours != ref { Issue.record("0x\(String(bits, radix: 16)): \(ours) != \(ref)"); return }
        }
    }

    @Test func truncatedFiles() throws {
        let good = try Safetensors.encode(tensors: [("w", Tensor([1, 2, 3, 4]))])
        let e1 = try errorFor(good.prefix(good.count - 3), "cut-data.safetensors")
        #expect(e1.kind == .incompleteBuffer)
        let e2 = try errorFor(good.prefix(20), "cut-header.safetensors")
        #expect(e2.kind == .invalidHeaderLength)
        let e3 = try errorFor(good.prefix(5), "tiny.safetensors")
        #expect(e3.kind == .headerTooSmall)
        var trailing = good
        trailing.append(contentsOf: [0, 0, 0, 0])
        #expect(try errorFor(trailing, "trailing.safetensors").kind == .incompleteBuffer)
    }

    @Test func badHeaderLength() throws {
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let huge = rawFile(header: header, data: [0, 0, 0, 0], headerLength: 1 << 40)
        #expect(try errorFor(huge, "huge.safetensors").kind == .headerTooLarge)
        let past = rawFile(header: header, data: [0, 0, 0, 0], headerLength: 4096)
        let e = try errorFor(past, "past.safetensors")
        #expect(e.kind == .invalidHeaderLength)
        #expect(e.description.contains("4096"))
    }

    @Test func badJSON() throws {
        #expect(try errorFor(rawFile(header: "{not json", data: []), "badjson.safetensors").kind == .invalidHeader)
        #expect(try errorFor(rawFile(header: "[1, 2]  ", data: []), "array.safetensors").kind == .invalidHeader)
        var bad = Data([0xFF, 0xFE])
        bad.insert(contentsOf: [2, 0, 0, 0, 0, 0, 0, 0], at: 0)
        #expect(try errorFor(bad, "utf8.safetensors").kind == .invalidHeader)
        let noDtype = rawFile(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        let e = try errorFor(noDtype, "nodtype.safetensors")
        #expect(e.kind == .invalidHeader && e.key == "w" && e.description.contains("\"w\""))
        let badShape = rawFile(header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
        #expect(try errorFor(badShape, "shape.safetensors").kind == .invalidHeader)
        let boolOffsets = rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[false,4]}}"#, data: [0, 0, 0, 0])
        #expect(try errorFor(boolOffsets, "bool.safetensors").kind == .invalidHeader)
        let f8 = rawFile(header: #"{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#, data: [0])
        let e2 = try errorFor(f8, "f8.safetensors")
        #expect(e2.kind == .unsupportedDtype && e2.key == "w")
        let meta = rawFile(header: #"{"__metadata__":{"a":1}}"#, data: [])
        #expect(try errorFor(meta, "meta.safetensors").kind == .invalidHeader)
    }

    /// Two entries of one name are refused (a JSON parser would silently keep one); equal keys
    /// inside different nested objects, or inside a string, are fine.
    @Test func duplicateKeysAreRefused() throws {
        let dup = rawFile(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                          data: [UInt8](repeating: 0, count: 8))
        let e = try errorFor(dup, "dup.safetensors")
        #expect(e.kind == .invalidHeader && e.key == "w" && e.description.contains("twice"))
        let nested = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b\"shape":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(Array(nested.utf8).withUnsafeBufferPointer { Safetensors.duplicateTopLevelKey($0) } == nil)
    }

    @Test func overlappingAndOutOfBoundsOffsets() throws {
        let overlap = rawFile(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                              data: [UInt8](repeating: 0, count: 12))
        let e = try errorFor(overlap, "overlap.safetensors")
        #expect(e.kind == .invalidOffset && e.key == "b")
        #expect(e.description.contains("overlaps"))
        let gap = rawFile(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(try errorFor(gap, "gap.safetensors").kind == .invalidOffset)
        let backwards = rawFile(header: #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#,
                                data: [UInt8](repeating: 0, count: 8))
        #expect(try errorFor(backwards, "backwards.safetensors").kind == .invalidOffset)
        let outOfBounds = rawFile(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(try errorFor(outOfBounds, "oob.safetensors").kind == .incompleteBuffer)
    }

    @Test func wrongByteSize() throws {
        let wrong = rawFile(header: #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        let e = try errorFor(wrong, "size.safetensors")
        #expect(e.kind == .invalidTensorInfo && e.key == "w")
        #expect(e.description.contains("needs 12 bytes") && e.description.contains("hold 8"))
        let overflow = rawFile(header: #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        #expect(try errorFor(overflow, "overflow.safetensors").kind == .invalidTensorInfo)
    }

    @Test func writeRejectsDuplicateAndReservedNames() throws {
        #expect(throws: SafetensorsError.self) { try Safetensors.encode(tensors: [("a", Tensor([1])), ("a", Tensor([2]))]) }
        #expect(throws: SafetensorsError.self) { try Safetensors.encode(tensors: [("__metadata__", Tensor([1]))]) }
        let dir = try makeTempDir("st")
        defer { cleanup(dir) }
        #expect(throws: SafetensorsError.self) { try Safetensors.write(path: dir + "/no/such/dir/x.safetensors", tensors: []) }
    }
}
