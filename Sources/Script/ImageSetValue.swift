import Foundation
import Tensor
import Models
import Synthesis
import Plot

/// An image set in the language: `imgs.images`, `imgs.labels`, `save(imgs, "x.safetensors")`,
/// `save(imgs, "grid.png")`.
public final class ImageSetValue: ScriptSavable {
    public let set: ImageSet
    public init(_ set: ImageSet) { self.set = set }
    public var typeName: String { "imageset" }
    public var memberNames: [String] { ["images", "labels", "soft_targets", "count", "method", "seed", "tau", "regions", "priors", "info"] }
    public func member(_ name: String) throws -> Value? {
        switch name {
        case "images": return .tensor(set.images)
        case "labels": return .list(set.labels.map { .int($0) })
        case "soft_targets": return .tensor(set.softTargets)
        case "count": return .int(set.count)
        case "method": return .string(set.method)
        case "seed": return .number(Double(set.seed))
        case "tau": return set.draws.tau.map { .number(Double($0)) } ?? .nothing
        case "regions":
            return .list(set.draws.regions.map { r in
                .record(RecordRef([("image", .int(r.box.image)), ("y", .int(r.box.y)), ("x", .int(r.box.x)),
                                   ("h", .int(r.box.h)), ("w", .int(r.box.w)), ("label", .int(r.label))]))
            })
        case "priors": return .list(set.draws.priors.map { .record(RecordRef([("block", .int($0.block)), ("prior", .tensor($0.prior))])) })
        case "info": return .record(RecordRef(set.info.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        default: return nil
        }
    }
    public var description: String {
        let s = set.images.shape
        var d = "imageset \(set.method) seed \(set.seed): \(s[0]) images \(s[1])×\(s[2])×\(s[3])"
        if let f = set.info["final_losses"] { d += ", final losses \(f)" }
        return d
    }
    public var saveExtensions: [String] { ["safetensors", "png"] }
    public func serialized(for path: String) throws -> Data {
        if path.lowercased().hasSuffix(".png") {
            // Rendered through a temporary file: the PNG writer works on paths.
            let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("imageset-\(UUID().uuidString).png")
            defer { try? FileManager.default.removeItem(at: tmp) }
            try ImageGrid.write(set.images, path: tmp.path, mean: set.mean, std: set.std, scale: 2)
            return try Data(contentsOf: tmp)
        }
        return try set.data()
    }
}
