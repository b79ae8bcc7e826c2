import Foundation
import Tensor
import Models
import Datasets

/// Where the shipped checkpoints live: `$SARDFQ_MODELS`, `./models`, or `models/` next to the
/// package that built the executable.
public enum ModelStore {
    public static var directories: [String] {
        var dirs: [String] = []
        if let d = ProcessInfo.processInfo.environment["SARDFQ_MODELS"] { dirs.append(d) }
        dirs.append(FileManager.default.currentDirectoryPath + "/models")
        // …/<package>/.build/<config>/sardfq → …/<package>/models
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        dirs.append(exe.deletingLastPathComponent().appendingPathComponent("../../../models").standardized.path)
        dirs.append(exe.deletingLastPathComponent().appendingPathComponent("../../models").standardized.path)
        return dirs
    }
    public static func checkpoint(for name: String) -> String? {
        directories.map { "\($0)/\(name).safetensors" }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// A model by preset name or checkpoint path. `weights`: nil (the shipped checkpoint of an
    /// embedded preset), "random" (seeded initialisation), or a safetensors path (timm keys for a
    /// timm preset; our own files for a path given as `name`).
    public static func load(_ name: String, weights: String?, seed: UInt64, geometry: CheckpointGeometry = CheckpointGeometry()) throws -> ModelObject {
        if ["vit", "deit", "swin"].contains(name) {
            // A timm checkpoint of any geometry: read from the state dict's shapes.
            guard let path = weights, path != "random" else {
                throw ScriptError("model(\"\(name)\") reads its geometry from a timm checkpoint: pass weights: \"file.safetensors\"")
            }
            guard FileManager.default.fileExists(atPath: path) else { throw ScriptError("\(path): no such checkpoint") }
            let m = try ModelFactory.load(timm: path, family: name, geometry: geometry)
            return ModelObject(m, name: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, preprocessing: nil)
        }
        if name.hasSuffix(".safetensors") {
            let (m, meta) = try ModelFactory.load(path: name)
            return ModelObject(m, name: meta["sardfq.name"] ?? URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent,
                               preprocessing: nil)
        }
        guard let preset = Presets.named(name) else {
            throw ScriptError("unknown model '\(name)': expected one of \(Presets.all.map(\.name).joined(separator: ", ")) or a .safetensors path")
        }
        switch weights {
        case "random"?:
            return ModelObject(ModelFactory.build(preset.architecture, seed: seed), name: name, preprocessing: preset.preprocessing)
        case let path?:
            guard FileManager.default.fileExists(atPath: path) else { throw ScriptError("\(path): no such checkpoint") }
            let m = try path.hasSuffix(".safetensors") && (try? Safetensors.read(path: path).metadata["sardfq.architecture"]) != nil
                ? ModelFactory.load(path: path).0 : ModelFactory.load(timm: path, architecture: preset.architecture)
            return ModelObject(m, name: name, preprocessing: preset.preprocessing)
        case nil:
            guard let path = checkpoint(for: name) else {
                throw ScriptError("no weights for '\(name)': the shipped checkpoints are models/{vit-t,vit-s,swin-t}.safetensors; for a timm model pass weights: \"file.safetensors\", or weights: \"random\"")
            }
            let (m, _) = try ModelFactory.load(path: path)
            return ModelObject(m, name: name, preprocessing: preset.preprocessing)
        }
    }
}
