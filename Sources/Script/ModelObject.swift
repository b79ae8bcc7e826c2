import Foundation
import Tensor
import Models
import Datasets

/// A full-precision model in the language: `model("vit-t")`, `net.params`, `save(net, "x.safetensors")`.
public final class ModelObject: ScriptVisionModel, ScriptSavable {
    public let model: VisionModel
    public let name: String
    public let preprocessing: Preprocessing?
    public init(_ model: VisionModel, name: String, preprocessing: Preprocessing?) {
        self.model = model; self.name = name; self.preprocessing = preprocessing
    }
    public var visionModel: VisionModel { model }
    public var typeName: String { "model" }
    public var memberNames: [String] { ["name", "family", "params", "blocks", "stages", "classes", "input_shape", "flops", "architecture"] }
    public func member(_ n: String) throws -> Value? {
        let a = model.architecture
        switch n {
        case "name": return .string(name)
        case "family": return .string(a.family)
        case "params": return .int(model.parameterCount)
        case "blocks": return .int(a.numBlocks)
        case "stages":  // Swin's stages; a ViT is one stage
            if case .swin(let c) = a { return .int(c.depths.count) }
            return .int(1)
        case "classes": return .int(a.numClasses)
        case "input_shape": return .list(a.inputShape.map { .int($0) })
        case "flops": return .number(ModelCard.flopsPerImage(a))
        case "architecture": return .string(a.json())
        default: return nil
        }
    }
    public var description: String {
        let a = model.architecture
        return "model \(name): \(a.family), \(a.numBlocks) blocks, \(String(format: "%.2fM", Double(model.parameterCount) / 1e6)) params, input \(shapeString(a.inputShape)), \(a.numClasses) classes"
    }
    public var saveExtensions: [String] { ["safetensors"] }
    public func serialized(for path: String) throws -> Data {
        try ModelFactory.encode(model, metadata: ["sardfq.name": name])
    }
}
