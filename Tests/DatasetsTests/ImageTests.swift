import Datasets
import Foundation
import Plot
import Testing
import Tensor

/// The cases of Fixtures/manifest.json (made by tools/make_image_fixtures.py with Pillow).
private struct Manifest: Decodable {
    struct Case: Decodable {
        let source: String
        let size: Int
        let crop_pct: Double
        let interpolation: String
        let resized: [Int]
        let expected: String
    }
    let sources: [String: String]
    let decoded16: [String]
    let cases: [Case]
}

private func loadManifest() throws -> Manifest {
    try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: try fixture("manifest.json"))))
}

@Suite struct ImageCodecTests {
    @Test func pngWriterRoundTripsThroughTheReader() throws {
        let dir = try makeTempDir("png")
        defer { cleanup(dir) }
        var rng = RNG(seed: 3)
        let w = 13, h = 7
        let rgb = (0..<(w * h * 3)).map { _ in UInt8(rng.int(256)) }
        try PNGFile.write(path: dir + "/rgb.png", width: w, height: h, channels: 3, pixels: rgb)
        #expect(try pngSize(dir + "/rgb.png") == (13, 7))
        let back = try RGBImage.decode(path: dir + "/rgb.png")
        #expect(back.width == w && back.height == h && back.pixels == rgb)

        let gray = (0..<(w * h)).map { UInt8(($0 * 37) % 256) }
        try PNGFile.write(path: dir + "/gray.png", width: w, height: h, channels: 1, pixels: gray)
        let g = try RGBImage.decode(path: dir + "/gray.png")
        #expect(g.pixels == gray.flatMap { [$0, $0, $0] }, "gray is replicated to RGB")

        let rgba = (0..<(w * h * 4)).map { UInt8(($0 * 11) % 256) }
        try PNGFile.write(path: dir + "/rgba.png", width: w, height: h, channels: 4, pixels: rgba)
        let a = try RGBImage.decode(path: dir + "/rgba.png")
        var noAlpha: [UInt8] = []
        for i in 0..<(w * h) { noAlpha += rgba[(i * 4)..<(i * 4 + 3)] }
        #expect(a.pixels == noAlpha, "alpha is dropped")

        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["gray.png", "rgb.png", "rgba.png"], "no temp files left")
        #expect(throws: PlotError.self) { try PNGFile.write(path: dir + "/bad.png", width: 2, height: 2, channels: 3, pixels: [1, 2]) }
    }

    @Test func decodersMatchPillowExactly() throws {
        // JPEG: the same libjpeg-turbo IDCT (ISLOW) and fancy upsampling give identical pixels.
        let m = try loadManifest()
        for name in m.sources.keys.sorted() + m.decoded16 {
            let ours = try RGBImage.decode(path: try fixture(name))
            let pillow = try RGBImage.decode(path: try fixture(name + ".decoded.png"))
            #expect(ours.width == pillow.width && ours.height == pillow.height, "\(name)")
            let diff = zip(ours.pixels, pillow.pixels).filter { $0 != $1 }.count
            #expect(diff == 0, "\(name): \(diff) bytes differ from Pillow's decode")
        }
    }

    @Test func corruptAndUnknownFilesAreReported() throws {
        let dir = try makeTempDir("bad")
        defer { cleanup(dir) }
        let jpg = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try fixture("photo_37x29.jpg"))))
        try Data(jpg.prefix(jpg.count * 3 / 4)).write(to: URL(fileURLWithPath: dir + "/cut.jpg"))
        // Truncated data is an error, as in Pillow (libjpeg would only warn and pad with gray).
        do {
            _ = try RGBImage.decode(path: dir + "/cut.jpg")
            Issue.record("truncated JPEG decoded")
        } catch {
            #expect("\(error)".contains("cut.jpg") && "\(error)".contains("truncated"), "\(error)")
        }
        try Data(jpg.prefix(10)).write(to: URL(fileURLWithPath: dir + "/header.jpg"))
        #expect(throws: DatasetError.self) { try RGBImage.decode(path: dir + "/header.jpg") }
        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try fixture("photo_50x64.png"))))
        try Data(png.prefix(100)).write(to: URL(fileURLWithPath: dir + "/cut.png"))
        do {
            _ = try RGBImage.decode(path: dir + "/cut.png")
            Issue.record("truncated PNG decoded")
        } catch {
            #expect("\(error)".contains("cut.png") && "\(error)".contains("libpng"), "\(error)")
        }
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir + "/text.jpg"))
        #expect(throws: DatasetError.self) { try RGBImage.decode(path: dir + "/text.jpg") }
    }
}

@Suite struct PillowConformanceTests {
    @Test func resizeAndCenterCropMatchPillow() throws {
        let m = try loadManifest()
        #expect(m.cases.count >= 5)
        for c in m.cases {
            let tf = try EvalTransform(size: c.size, cropPct: c.crop_pct, interpolation: try #require(ResampleFilter(rawValue: c.interpolation)))
            let src = try RGBImage.decode(path: try fixture(c.source))
            let (rw, rh) = tf.resizedSize(width: src.width, height: src.height)
            #expect([rw, rh] == c.resized, "\(c.expected): resize target")
            let ours = try tf.resizeAndCrop(src)
            let pillow = try RGBImage.decode(path: try fixture(c.expected))
            #expect(ours.width == c.size && ours.height == c.size)
            let diffs = zip(ours.pixels, pillow.pixels).map { abs(Int($0) - Int($1)) }
            let maxDiff = diffs.max() ?? 0
            let off = diffs.filter { $0 > 0 }.count
            // A faithful port of Pillow's fixed-point resampler is bit exact; allow ±1 anyway.
            #expect(maxDiff <= 1, "\(c.expected): max |diff| \(maxDiff)")
            #expect(off * 100 <= diffs.count, "\(c.expected): \(off) of \(diffs.count) bytes differ")
        }
    }

    @Test func evalTransformNormalizes() throws {
        let tf = try EvalTransform(size: 24, cropPct: 0.875)
        let src = try RGBImage.decode(path: try fixture("photo_37x29.jpg"))
        let t = try tf.apply(src)
        #expect(t.shape == [3, 24, 24])
        let u8 = try tf.resizeAndCrop(src)
        for (c, i) in [(0, 0), (1, 100), (2, 575)] {
            let expected = (Float(u8.pixels[i * 3 + c]) / 255 - tf.mean[c]) / tf.std[c]
            #expect(t.ptr[c * 576 + i] == expected)
        }
        #expect(EvalTransform.imagenet224.scaleSize == 256)
        #expect(EvalTransform.imagenet224.resizedSize(width: 500, height: 375) == (341, 256))
    }

    @Test func resampleIdentityAndConstant() throws {
        let img = try RGBImage(width: 5, height: 4, pixels: (0..<60).map { UInt8($0 * 4) })
        #expect(try Resample.resize(img, width: 5, height: 4) == img)
        let flat = try RGBImage(width: 9, height: 6, pixels: [UInt8](repeating: 77, count: 162))
        for (w, h) in [(3, 2), (20, 13), (9, 1)] {
            let r = try Resample.resize(flat, width: w, height: h)
            #expect(r.pixels.allSatisfy { $0 == 77 }, "a constant image stays constant at \(w)x\(h)")
        }
    }
}

@Suite struct ImageFolderTests {
    @Test func scansClassesSortedAndLoadsPreprocessed() throws {
        let root = try makeTempDir("folder")
        defer { cleanup(root) }
        let fm = FileManager.default
        // Classes deliberately created out of order; one PNG named .JPEG (as in ImageNet).
        for cls in ["n02", "n01", "n03"] { try fm.createDirectory(atPath: root + "/" + cls, withIntermediateDirectories: true) }
        var rng = RNG(seed: 11)
        func png(_ path: String, _ w: Int, _ h: Int) throws {
            try PNGFile.write(path: path, width: w, height: h, channels: 3, pixels: (0..<(w * h * 3)).map { _ in UInt8(rng.int(256)) })
        }
        try png(root + "/n01/b.png", 40, 30)
        try png(root + "/n01/a.JPEG", 30, 40)
        try fm.copyItem(atPath: try fixture("photo_37x29.jpg"), toPath: root + "/n02/x.jpg")
        try fm.copyItem(atPath: try fixture("gray_25x25.jpg"), toPath: root + "/n03/y.JPEG")
        try Data("ignore me".utf8).write(to: URL(fileURLWithPath: root + "/n03/readme.txt"))

        let tf = try EvalTransform(size: 16, cropPct: 0.875)
        let folder = try ImageFolder(root: root, transform: tf)
        #expect(folder.classNames == ["n01", "n02", "n03"])
        #expect(folder.samples.map { URL(fileURLWithPath: $0.path).lastPathComponent } == ["a.JPEG", "b.png", "x.jpg", "y.JPEG"])
        #expect(folder.labels == [0, 0, 1, 2])

        let all = try folder.loadAll()
        #expect(all.images.shape == [4, 3, 16, 16])
        #expect(all.labels == [0, 0, 1, 2])
        // Each image equals the transform applied directly.
        let direct = try tf.apply(try RGBImage.decode(path: root + "/n02/x.jpg"))
        #expect(Array(all.images.buffer[(2 * 768)..<(3 * 768)]) == direct.array)

        let s1 = try folder.sample(count: 2, seed: 5), s2 = try folder.sample(count: 2, seed: 5)
        #expect(s1.labels == s2.labels && s1.images.array == s2.images.array)
        var seen = 0
        try folder.forEachBatch(size: 3, shuffle: 1) { b in seen += b.count }
        #expect(seen == 4)
    }

    @Test func reportsMissingAndEmptyFolders() throws {
        let root = try makeTempDir("empty")
        defer { cleanup(root) }
        #expect(throws: DatasetError.self) { try ImageFolder(root: root) }
        try FileManager.default.createDirectory(atPath: root + "/cls", withIntermediateDirectories: true)
        do {
            _ = try ImageFolder(root: root)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("cls") && "\(error)".contains("no .JPEG"))
        }
        #expect(throws: DatasetError.self) { try ImageFolder(root: root + "/missing") }
    }
}
