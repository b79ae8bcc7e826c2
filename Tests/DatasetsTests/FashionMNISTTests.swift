import Datasets
import Foundation
import Testing
import Tensor

@Suite struct IDXTests {
    @Test func parsesHeaderAndData() throws {
        let bytes: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]
        let a = try IDXArray(bytes: bytes, path: "x.idx")
        #expect(a.shape == [2, 1, 3])
        #expect(a.data == [1, 2, 3, 4, 5, 6])
    }

    @Test func rejectsBadMagicTypeAndSize() throws {
        func message(_ bytes: [UInt8]) -> String {
            do { _ = try IDXArray(bytes: bytes, path: "bad.idx"); return "no error" } catch { return "\(error)" }
        }
        #expect(message([1, 0, 8, 1, 0, 0, 0, 1, 9]).contains("bad IDX magic"))
        #expect(message([0, 0, 0x0D, 1, 0, 0, 0, 1, 9, 9, 9, 9]).contains("not unsigned byte"))
        #expect(message([0, 0, 8, 2, 0, 0, 0, 2]).contains("truncated"))
        let m = message([0, 0, 8, 1, 0, 0, 0, 3, 1, 2])
        #expect(m.contains("bad.idx") && m.contains("need 3 bytes") && m.contains("has 2"))
    }

    @Test func gunzipsThroughZlibAndReportsCorruption() throws {
        let dir = try makeTempDir("gz")
        defer { cleanup(dir) }
        // gzip.compress(b"sardfq idx\n", mtime=0) from Python: header, deflate data, CRC32, size.
        let gz: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x2b, 0x4e, 0x2c, 0x4a, 0x49, 0x2b,
                           0x54, 0xc8, 0x4c, 0xa9, 0xe0, 0x02, 0x00, 0x68, 0xe6, 0x8c, 0x5f, 0x0b, 0x00, 0x00, 0x00]
        try Data(gz).write(to: URL(fileURLWithPath: dir + "/small.gz"))
        #expect(try GZip.read(path: dir + "/small.gz") == Array("sardfq idx\n".utf8))
        var badCRC = gz
        badCRC[24] ^= 0xff
        try Data(badCRC).write(to: URL(fileURLWithPath: dir + "/crc.gz"))
        #expect(throws: DatasetError.self) { try GZip.read(path: dir + "/crc.gz") }
        try Data(gz.prefix(20)).write(to: URL(fileURLWithPath: dir + "/short.gz"))
        #expect(throws: DatasetError.self) { try GZip.read(path: dir + "/short.gz") }
        let plain = dir + "/plain.bin"
        try Data("plain bytes".utf8).write(to: URL(fileURLWithPath: plain))
        #expect(try GZip.read(path: plain) == Array("plain bytes".utf8), "plain files pass through")
        let real = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
        if FileManager.default.fileExists(atPath: real) {
            let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: real)))
            let cut = dir + "/cut.gz"
            try Data(full.prefix(full.count / 2)).write(to: URL(fileURLWithPath: cut))
            #expect(throws: DatasetError.self) { try GZip.read(path: cut) }
            #expect(try GZip.read(path: real).count == 8 + 10000)
        }
        #expect(throws: DatasetError.self) { try GZip.read(path: dir + "/missing.gz") }
    }
}

@Suite(.enabled(if: fashionMNISTInstalled, "needs apt-get install dataset-fashion-mnist"))
struct FashionMNISTTests {
    @Test func testSplitShapesLabelsAndPadding() throws {
        let test = try FashionMNIST.load(split: .test)
        #expect(test.images.shape == [10000, 1, 32, 32])
        #expect(test.count == 10000)
        #expect(test.classNames.count == 10)
        #expect(test.classCounts == [Int](repeating: 1000, count: 10))
        // The 2-px border is black (0 in [0,1]) after normalization.
        let bg = -FashionMNIST.mean / FashionMNIST.std
        let img = test.images.ptr
        for i in [0, 4321, 9999] {
            for x in 0..<32 {
                #expect(img[i * 1024 + x] == bg && img[i * 1024 + 31 * 32 + x] == bg && img[i * 1024 + x * 32 + 1] == bg)
            }
        }
        // First test image is an ankle boot (label 9) in the published files.
        #expect(test.labels[0] == 9)
        #expect(test.classNames[9] == "Ankle boot")
    }

    @Test func trainStatisticsMatchTheConstants() throws {
        // Recompute mean/std of the padded [0,1] train pixels from the raw bytes (Double sums).
        let (raw, labels) = try FashionMNIST.loadRaw(split: .train)
        #expect(raw.shape == [60000, 28, 28])
        #expect(labels.count == 60000 && labels.allSatisfy { (0..<10).contains($0) })
        var sum = 0.0, sumSq = 0.0
        for v in raw.data { let x = Double(v) / 255; sum += x; sumSq += x * x }
        let n = Double(60000 * 32 * 32)
        let mean = sum / n, std = (sumSq / n - mean * mean).squareRoot()
        #expect(abs(mean - Double(FashionMNIST.mean)) < 1e-6)
        #expect(abs(std - Double(FashionMNIST.std)) < 1e-6)

        // And the normalized train tensor has mean 0, std 1.
        let train = try FashionMNIST.load(split: .train)
        var s = 0.0, s2 = 0.0
        for v in train.images.buffer { s += Double(v); s2 += Double(v) * Double(v) }
        let m = s / Double(train.images.count)
        #expect(abs(m) < 1e-4)
        #expect(abs((s2 / Double(train.images.count) - m * m).squareRoot() - 1) < 1e-4)
    }

    @Test func missingFilesSayHowToInstall() throws {
        do {
            _ = try FashionMNIST.load(split: .test, root: "/nonexistent/fmnist")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("apt-get install dataset-fashion-mnist"))
            #expect("\(error)".contains("/nonexistent/fmnist/t10k-images-idx3-ubyte.gz"))
        }
    }
}

@Suite struct BatchingTests {
    /// A small dataset whose pixel values encode the image index.
    func toy(_ n: Int) throws -> ImageDataset {
        let t = Tensor(uninitialized: [n, 1, 4, 4])
        for i in 0..<n { for j in 0..<16 { t.ptr[i * 16 + j] = Float(i) } }
        return try ImageDataset(name: "toy", images: t, labels: (0..<n).map { $0 % 3 }, classNames: ["a", "b", "c"], mean: [0.5], std: [0.25])
    }

    @Test func batchesInOrderAndShuffledDeterministically() throws {
        let d = try toy(10)
        let plain = try d.batches(size: 4)
        #expect(plain.indices == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        let batches = Array(plain)
        #expect(batches[2].images.shape == [2, 1, 4, 4])
        #expect(batches[1].images.ptr[16] == 5)
        #expect(batches[1].labels == [1, 2, 0, 1])
        #expect(try d.batches(size: 4, dropLast: true).count == 2)

        let s1 = try d.batches(size: 3, shuffle: 42).indices, s2 = try d.batches(size: 3, shuffle: 42).indices
        let s3 = try d.batches(size: 3, shuffle: 43).indices
        #expect(s1 == s2)
        #expect(s1 != s3)
        #expect(s1.flatMap { $0 }.sorted() == Array(0..<10), "a shuffle is a permutation")
        for b in try d.batches(size: 3, shuffle: 42) {
            for (k, i) in b.indices.enumerated() { #expect(b.images.ptr[k * 16] == Float(i) && b.labels[k] == i % 3) }
        }
        #expect(throws: DatasetError.self) { try d.batches(size: 0) }
    }

    @Test func subsetAndSample() throws {
        let d = try toy(20)
        let s = try d.subset([5, 0, 5])
        #expect(s.images.shape == [3, 1, 4, 4] && s.labels == [2, 0, 2] && s.images.ptr[16] == 0)
        let a = try d.sample(count: 6, seed: 1), b = try d.sample(count: 6, seed: 1), c = try d.sample(count: 6, seed: 2)
        #expect(a.images.array == b.images.array && a.labels == b.labels)
        #expect(a.images.array != c.images.array)
        let picked = (0..<6).map { Int(a.images.ptr[$0 * 16]) }
        #expect(Set(picked).count == 6, "distinct images")
        #expect(throws: DatasetError.self) { try d.sample(count: 21, seed: 0) }
        #expect(throws: DatasetError.self) { try d.subset([20]) }
    }

    @Test func saveAndLoadAsSafetensors() throws {
        let dir = try makeTempDir("set")
        defer { cleanup(dir) }
        let d = try toy(5)
        try d.save(path: dir + "/set.safetensors", extraMetadata: ["seed": "3"])
        let (back, meta) = try ImageDataset.load(path: dir + "/set.safetensors")
        #expect(back.images.array == d.images.array && back.images.shape == d.images.shape)
        #expect(back.labels == d.labels && back.classNames == d.classNames && back.name == "toy")
        #expect(back.mean == [0.5] && back.std == [0.25] && meta["seed"] == "3")
        try Safetensors.write(path: dir + "/other.safetensors", tensors: [("w", Tensor([1]))])
        #expect(throws: DatasetError.self) { try ImageDataset.load(path: dir + "/other.safetensors") }
    }

    @Test func imageSourceSamplingAgreesAcrossKinds() throws {
        let d = try toy(12)
        let viaProtocol = try (d as ImageSource).sampleImages(count: 4, seed: 8)
        let direct = try d.sample(count: 4, seed: 8)
        #expect(viaProtocol.images.array == direct.images.array && viaProtocol.labels == direct.labels)
    }

    @Test func augmentCropsPadsAndFlipsDeterministically() throws {
        // One 1×4×4 image with values 0…15, mean 0.5 / std 0.25 so padding is -2.
        let t = try Tensor(shape: [1, 1, 4, 4], (0..<16).map(Float.init))
        let d = try ImageDataset(name: "x", images: t, labels: [0], classNames: ["a"], mean: [0.5], std: [0.25])
        var r1 = RNG(seed: 9), r2 = RNG(seed: 9)
        let a = try d.augment(t, padding: 2, rng: &r1), b = try d.augment(t, padding: 2, rng: &r2)
        #expect(a.array == b.array)
        // No padding, always flip: an exact mirror.
        var r3 = RNG(seed: 0)
        let m = try d.augment(t, padding: 0, flipProbability: 1, rng: &r3)
        #expect(m.array == [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12])
        // Every output is a shifted window: each value is the fill or an input value at the
        // position shifted by one (dy, dx) for the whole image.
        var r4 = RNG(seed: 123)
        var shifts = Set<[Int]>()
        for _ in 0..<40 {
            let o = try d.augment(t, padding: 2, flipProbability: 0, rng: &r4).array
            var found: [Int]? = nil
            for dy in -2...2 { for dx in -2...2 {
                let ok = (0..<16).allSatisfy { k in
                    let y = k / 4 + dy, x = k % 4 + dx
                    return o[k] == ((0..<4).contains(y) && (0..<4).contains(x) ? Float(y * 4 + x) : -2)
                }
                if ok && found == nil { found = [dy, dx] }
            } }
            let f = try #require(found, "output is not a padded crop: \(o)")
            shifts.insert(f)
        }
        #expect(shifts.count > 5, "shifts vary")
    }
}
