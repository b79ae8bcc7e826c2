import Foundation
import Testing

/// A fresh empty directory under the system temp folder, removed by the caller with `cleanup`.
func makeTempDir(_ label: String) throws -> String {
    let dir = NSTemporaryDirectory() + "/sardfq-datasets-\(label)-" + ProcessInfo.processInfo.globallyUniqueString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func cleanup(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

/// Path of a file in the test bundle's Fixtures folder.
func fixture(_ name: String) throws -> String {
    let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures folder missing from the test bundle")
    return dir.appendingPathComponent(name).path
}

/// Whether Fashion-MNIST is installed (the Debian package `dataset-fashion-mnist`).
let fashionMNISTInstalled = FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")

/// Big-endian PNG IHDR width and height, after checking the signature.
func pngSize(_ path: String) throws -> (width: Int, height: Int) {
    let d = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    try #require(d.count > 24, "PNG file too short")
    #expect(Array(d[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "bad PNG signature")
    #expect(String(decoding: d[12..<16], as: UTF8.self) == "IHDR")
    func be(_ o: Int) -> Int { Int(d[o]) << 24 | Int(d[o + 1]) << 16 | Int(d[o + 2]) << 8 | Int(d[o + 3]) }
    return (be(16), be(20))
}
