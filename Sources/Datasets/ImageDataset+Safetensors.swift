import Foundation
import Tensor

extension ImageDataset {
    /// Saves the set as safetensors: `images` `(N, C, H, W)` and `labels` `(N)` as F32, with
    /// name, class names (JSON list), mean and std (comma-separated) in `__metadata__`.
    public func save(path: String, extraMetadata: [String: String] = [:]) throws {
        var meta = extraMetadata
        meta["kind"] = "sardfq.image-dataset"
        meta["name"] = name
        let names = try JSONSerialization.data(withJSONObject: classNames)
        meta["class_names"] = String(decoding: names, as: UTF8.self)
        meta["mean"] = mean.map { "\($0)" }.joined(separator: ",")
        meta["std"] = std.map { "\($0)" }.joined(separator: ",")
        let labelTensor = Tensor(labels.map(Float.init))
        try Safetensors.write(path: path, tensors: [("images", images), ("labels", labelTensor)], metadata: meta)
    }

    /// Loads a set written by `save`. Returns the dataset and the file's full metadata.
    public static func load(path: String) throws -> (dataset: ImageDataset, metadata: [String: String]) {
        let f = try Safetensors.read(path: path)
        guard let images = f["images"], let labelT = f["labels"] else {
            throw DatasetError.corrupt(path: path, message: "an image set needs tensors \"images\" and \"labels\", found \(f.names)")
        }
        func floats(_ key: String) throws -> [Float] {
            guard let s = f.metadata[key] else { throw DatasetError.corrupt(path: path, message: "metadata \"\(key)\" is missing") }
            let v = s.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard !v.isEmpty else { throw DatasetError.corrupt(path: path, message: "metadata \"\(key)\" is not a list of numbers: \(s)") }
            return v
        }
        guard let namesJSON = f.metadata["class_names"],
              let names = try? JSONSerialization.jsonObject(with: Data(namesJSON.utf8)) as? [String] else {
            throw DatasetError.corrupt(path: path, message: "metadata \"class_names\" is missing or not a JSON list of strings")
        }
        let labels = labelT.array.map { Int($0) }
        do {
            let d = try ImageDataset(name: f.metadata["name"] ?? URL(fileURLWithPath: path).lastPathComponent, images: images,
                                     labels: labels, classNames: names, mean: try floats("mean"), std: try floats("std"))
            return (d, f.metadata)
        } catch let e as DatasetError {
            throw DatasetError.corrupt(path: path, message: "\(e)")
        }
    }
}
