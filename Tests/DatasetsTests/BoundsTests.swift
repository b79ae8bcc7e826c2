import Datasets
import Foundation
import Testing

/// Issue #19 items 9 and 11: IDX dimensions and gzip output, and image sizes, are bounded
/// before anything is allocated; each refusal names the file.
@Suite struct IDXBoundsTests {
    static func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    @Test func overflowingDimensionsAreRefusedNotTrapped() throws {
        // Four dimensions of 2^32 - 1: their product overflows Int (it used to trap).
        let bytes: [UInt8] = [0, 0, 8, 4] + [UInt8](repeating: 0xFF, count: 16)
        let m = Self.message { _ = try IDXArray(bytes: bytes, path: "over.idx") }
        #expect(m.contains("over.idx") && m.contains("limit"), "\(m)")
        let dir = try makeTempDir("idx-over")
        defer { cleanup(dir) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/over.idx"))
        #expect(Self.message { _ = try IDXArray(path: dir + "/over.idx") }.contains("over.idx"))
    }

    @Test func dimensionsOverTheBoundAreRefusedFromTheHeader() throws {
        // 2^16 × 2^16 = 4 GiB of stated data in a 12-byte file.
        let m = Self.message { _ = try IDXArray(bytes: [0, 0, 8, 2, 0, 1, 0, 0, 0, 1, 0, 0], path: "big.idx") }
        #expect(m.contains("big.idx") && m.contains("\(IDXArray.maxDataBytes)-byte limit"), "\(m)")
    }

    @Test func inflationStopsAtTheStatedSize() throws {
        let dir = try makeTempDir("idx-bomb")
        defer { cleanup(dir) }
        // The header promises 2×2 bytes (16 with the header); 1 MiB follows. The reader inflates
        // with the header's size as the bound (zlib reads plain files through the same path as gzip ones).
        let path = dir + "/bomb.idx"
        try Data([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2] + [UInt8](repeating: 0, count: 1 << 20)).write(to: URL(fileURLWithPath: path))
        let m = Self.message { _ = try IDXArray(path: path) }
        #expect(m.contains("bomb.idx") && m.contains("inflates to more than 16 bytes"), "\(m)")
        #expect(Self.message { _ = try GZip.read(path: path, limit: 100) }.contains("more than 100 bytes"))
        #expect(try GZip.read(path: path, limit: 12 + (1 << 20)).count == 12 + (1 << 20), "exactly the limit is accepted")
        #expect(try GZip.readPrefix(path: path, count: 8) == [0, 0, 8, 2, 0, 0, 0, 2])
    }
}

/// A PNG in memory: IHDR as given, `raw` (filtered scanlines) in one stored (uncompressed)
/// deflate block per 65 535 bytes, so the test needs no compressor.
func makePNG(width: UInt32, height: UInt32, colorType: UInt8, bitDepth: UInt8, raw: [UInt8]) -> [UInt8] {
    func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    func crc32(_ d: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in d {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }
    func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(UInt32(data.count)) + body + be32(crc32(body))
    }
    var z: [UInt8] = [0x78, 0x01]
    var i = 0
    repeat {
        let n = min(65535, raw.count - i)
        z += [i + n == raw.count ? 1 : 0, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
        z += raw[i..<(i + n)]
        i += n
    } while i < raw.count
    var a: UInt32 = 1, b: UInt32 = 0
    for x in raw { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
    z += be32(b << 16 | a)
    let ihdr = be32(width) + be32(height) + [bitDepth, colorType, 0, 0, 0]
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", [])
}

@Suite struct ImageBoundsTests {
    static func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    @Test func decodeRefusesHugeImagesFromTheHeader() throws {
        let dir = try makeTempDir("png-bomb")
        defer { cleanup(dir) }
        // The 1 000 000×1 and 2×50 000 bombs (1-bit gray), and an area bomb within the side bound.
        for (w, h) in [(1_000_000, 1), (2, 50_000), (30_000, 30_000)] as [(UInt32, UInt32)] {
            let path = dir + "/bomb_\(w)x\(h).png"
            try Data(makePNG(width: w, height: h, colorType: 0, bitDepth: 1, raw: [0, 0])).write(to: URL(fileURLWithPath: path))
            let m = Self.message { _ = try RGBImage.decode(path: path) }
            #expect(m.contains(path) && m.contains("\(w)x\(h)") && m.contains("limit"), "\(m)")
        }
        let ok = dir + "/ok.png"
        try Data(makePNG(width: 2, height: 2, colorType: 0, bitDepth: 8, raw: [0, 10, 20, 0, 30, 40])).write(to: URL(fileURLWithPath: ok))
        let img = try RGBImage.decode(path: ok)
        #expect(img.width == 2 && img.pixels == [10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40])
    }

    @Test func resizeRefusesTargetsOverTheBound() throws {
        let img = try RGBImage(width: 2, height: 3, pixels: [UInt8](repeating: 7, count: 18))
        let m = Self.message { _ = try Resample.resize(img, width: 256, height: 3_840_000) }
        #expect(m.contains("256x3840000") && m.contains("limit"), "\(m)")
        #expect(Self.message { _ = try Resample.resize(img, width: 1 << 16, height: 2) }.contains("limit"))
        #expect(try Resample.resize(img, width: 4, height: 6).width == 4)
    }

    @Test func imageFolderNamesTheFileWhenTheEvalResizeIsRefused() throws {
        let root = try makeTempDir("png-resize-bomb")
        defer { cleanup(root) }
        try FileManager.default.createDirectory(atPath: root + "/c", withIntermediateDirectories: true)
        // 2×30 000 passes the decode bound (60 000 pixels) but its eval resize would be 256×3 840 000.
        let path = root + "/c/tall.png"
        let raw = [UInt8](repeating: 0, count: 2 * 30_000)  // per row: filter byte + one byte of 1-bit pixels
        try Data(makePNG(width: 2, height: 30_000, colorType: 0, bitDepth: 1, raw: raw)).write(to: URL(fileURLWithPath: path))
        let m = Self.message { _ = try ImageFolder(root: root).load([0]) }
        #expect(m.contains("tall.png") && m.contains("resiz") && m.contains("limit"), "\(m)")
    }
}

@Suite struct RGBImageInitTests {
    @Test func hugeClaimedSizeFailsInsteadOfTrapping() {
        #expect(throws: DatasetError.self) { try RGBImage(width: Int.max / 2, height: 4, pixels: []) }
    }
}
