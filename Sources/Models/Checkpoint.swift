import Foundation
import Tensor

/// Building models from presets and checkpoints.
public enum ModelFactory {
    /// A randomly initialised model of the given architecture (seeded).
    public static func build(_ a: Architecture, seed: UInt64 = 0) -> VisionModel {
        switch a {
        case .vit(let c): return VisionTransformer(c, seed: seed)
        case .swin(let c): return SwinTransformer(c, seed: seed)
        }
    }

    /// Our own checkpoint: a safetensors file whose `__metadata__` holds the architecture
    /// (`sardfq.architecture`, JSON), so nothing else is needed to rebuild the model.
    public static func load(path: String) throws -> (VisionModel, [String: String]) {
        let file = try Safetensors.read(path: path)
        guard let json = file.metadata["sardfq.architecture"] else {
            throw ModelError.config("\(path): no 'sardfq.architecture' in the safetensors metadata; for a timm checkpoint pass the preset name, e.g. model(\"deit_tiny_patch16_224\", weights: \"\(path)\")")
        }
        let arch: Architecture
        do { arch = try Architecture.from(json: json) } catch {
            throw ModelError.config("\(path): the architecture in the metadata is not valid: \(error)")
        }
        let model = build(arch)
        // Keys starting with "__" are training state (optimizer moments) in resumable checkpoints.
        try model.params.load(file.tensors.filter { !$0.name.hasPrefix("__") }.map { ($0.name, $0.tensor) }, file: path,
                              ignoring: SwinTransformer.isComputedBuffer)
        return (model, file.metadata)
    }

    /// A timm checkpoint (safetensors with timm's state-dict keys) for a known architecture.
    /// Loading is strict: missing, unexpected and mis-shaped keys are each reported by name.
    public static func load(timm path: String, architecture: Architecture) throws -> VisionModel {
        let file = try Safetensors.read(path: path)
        let model = build(architecture)
        try model.params.load(file.tensors.map { ($0.name, $0.tensor) }.filter { !$0.0.hasPrefix("__") }, file: path,
                              ignoring: SwinTransformer.isComputedBuffer)
        return model
    }

    /// Saves a model with its architecture (and any extra metadata) in the header, atomically.
    public static func save(_ model: VisionModel, path: String, metadata: [String: String] = [:]) throws {
        try Safetensors.write(path: path, tensors: model.params.all, metadata: checkpointMetadata(model, metadata))
    }

    /// The checkpoint file's bytes (for writers that place the file themselves).
    public static func encode(_ model: VisionModel, metadata: [String: String] = [:]) throws -> Data {
        try Safetensors.encode(tensors: model.params.all, metadata: checkpointMetadata(model, metadata))
    }

    static func checkpointMetadata(_ model: VisionModel, _ metadata: [String: String]) -> [String: String] {
        var meta = metadata
        meta["sardfq.architecture"] = model.architecture.json()
        return meta
    }
}
