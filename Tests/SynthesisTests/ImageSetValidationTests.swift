import Foundation
import Synthesis
import Tensor
import Testing

/// Issue #19 item 10: an image-set file (load_images, a synthesis cache entry) is validated
/// tensor by tensor; a damaged tensor is refused by name instead of trapping.
@Suite struct ImageSetValidationTests {
    /// A small valid set: 2 images (1, 4, 4), 3 classes, with every kind of draw.
    static func goodSet() throws -> ImageSet {
        var d = SynthesisDraws()
        d.labels = [0, 2]
        d.tau = 0.5
        d.jitter = [(0, 0), (1, -1)]
        d.flips = [false, true]
        d.regions = [Region(box: PixelBox(image: 1, y: 1, x: 1, h: 2, w: 3), label: 1)]
        d.keptPatches = [[0, 3], [1, 2]]
        d.realIndices = [4, 7]
        let images = try Tensor(shape: [2, 1, 4, 4], (0..<32).map { Float($0) / 32 })
        let soft = try Tensor(shape: [2, 3], [1, 0, 0, 0, 0, 1])
        return ImageSet(images: images, labels: d.labels, softTargets: soft, mean: [0.5], std: [0.25], method: "sardfq", seed: 3, draws: d)
    }

    /// The good set's file with tensor `name` replaced by `t` (or removed when `t` is nil).
    static func file(replacing name: String, with t: Tensor?) throws -> Data {
        let (tensors, meta) = try goodSet().encoded()
        var out = tensors.filter { $0.0 != name }
        if let t { out.append((name, t)) }
        return try Safetensors.encode(tensors: out, metadata: meta)
    }

    static func message(_ data: Data) -> String {
        do { _ = try ImageSet.load(data: data, file: "set.safetensors"); return "loaded" } catch { return "\(error)" }
    }

    @Test func goodSetRoundTrips() throws {
        let set = try ImageSet.load(data: try Self.goodSet().data(), file: "good")
        #expect(set.labels == [0, 2])
        #expect(set.draws.tau == 0.5)
        #expect(set.draws.jitter.map { [$0.0, $0.1] } == [[0, 0], [1, -1]])
        #expect(set.draws.flips == [false, true])
        #expect(set.draws.regions == (try Self.goodSet()).draws.regions)
        #expect(set.draws.keptPatches == [[0, 3], [1, 2]])
        #expect(set.draws.realIndices == [4, 7])
    }

    @Test(arguments: [
        ("labels", try! Tensor(shape: [2], [.nan, 1])),
        ("labels", try! Tensor(shape: [2], [0, .infinity])),
        ("labels", try! Tensor(shape: [2], [0, 3])),             // class 3 of 3
        ("labels", try! Tensor(shape: [2], [0, 1e30])),          // Int(1e30) would trap
        ("labels", try! Tensor(shape: [2], [0.5, 1])),
        ("labels", try! Tensor(shape: [1], [0])),
        ("draws.jitter", try! Tensor(shape: [2, 2], [0, .nan, 1, 1])),
        ("draws.jitter", try! Tensor(shape: [2, 2], [0, 0, -.infinity, 1])),
        ("draws.jitter", try! Tensor(shape: [4, 1], [0, 0, 1, 1])),
        ("draws.flips", try! Tensor(shape: [2], [0, .nan])),
        ("draws.flips", try! Tensor(shape: [3], [0, 1, 0])),
        ("draws.regions", try! Tensor(shape: [1, 5], [1, 1, 1, 2, 3])),      // short row
        ("draws.regions", try! Tensor(shape: [1, 6], [1, 3, 3, 2, 2, 1])),   // outside the 4×4 image
        ("draws.regions", try! Tensor(shape: [1, 6], [2, 0, 0, 1, 1, 1])),   // image 2 of 2
        ("draws.regions", try! Tensor(shape: [1, 6], [0, 0, .nan, 1, 1, 1])),
        ("draws.tau", try! Tensor(shape: [0], [])),
        ("draws.tau", try! Tensor(shape: [2], [1, 2])),
        ("draws.tau", try! Tensor(shape: [1], [.nan])),
        ("draws.kept_patches", try! Tensor(shape: [4], [0, 1, 2, 3])),
        ("draws.kept_patches", try! Tensor(shape: [2, 2], [0, .infinity, 1, 2])),
        ("draws.kept_patches", try! Tensor(shape: [3, 1], [0, 1, 2])),
        ("draws.real_indices", try! Tensor(shape: [2], [-1, 2])),
        ("images", try! Tensor(shape: [2, 16], [Float](repeating: 0, count: 32))),
        ("images", try! Tensor(shape: [2, 1, 4, 4], [.nan] + [Float](repeating: 0, count: 31))),
        ("soft_targets", try! Tensor(shape: [3, 3], [Float](repeating: 0, count: 9))),
        ("soft_targets", try! Tensor(shape: [2, 3], [.infinity, 0, 0, 0, 0, 1])),
        ("draws.image_z", try! Tensor(shape: [2, 2], [0, 0, 0, 0])),
        ("draws.prior.0", try! Tensor(shape: [2, 4], [Float](repeating: 0.25, count: 8))),
    ])
    func refusesDamagedTensorByName(_ name: String, _ t: Tensor) throws {
        let m = Self.message(try Self.file(replacing: name, with: t))
        #expect(m.contains("set.safetensors") && m.contains("'\(name)'"), "\(name) \(t.shape): \(m)")
    }

    @Test func refusesMissingTensorsAndBadMetadata() throws {
        #expect(Self.message(try Self.file(replacing: "labels", with: nil)).contains("no tensor 'labels'"))
        #expect(Self.message(try Self.file(replacing: "draws.flips", with: nil)).contains("draws.flips"))
        let (tensors, meta) = try Self.goodSet().encoded()
        var m2 = meta
        m2["std"] = "0"
        #expect(Self.message(try Safetensors.encode(tensors: tensors, metadata: m2)).contains("mean/std"))
        m2["std"] = "0.25"; m2["mean"] = "0.5,0.5"
        #expect(Self.message(try Safetensors.encode(tensors: tensors, metadata: m2)).contains("mean/std"))
    }
}
