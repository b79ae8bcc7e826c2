import Foundation
import Tensor
import Datasets
import Models

/// A labelled image dataset in the language. Fashion-MNIST splits are held in memory; an
/// ImageNet-layout folder decodes images when they are first needed.
public final class DatasetObject: ScriptObject {
    public let name: String
    private var loaded: ImageDataset?
    private let folder: ImageFolder?
    public init(name: String, dataset: ImageDataset) { self.name = name; loaded = dataset; folder = nil }
    public init(name: String, folder: ImageFolder) { self.name = name; loaded = nil; self.folder = folder }

    public var count: Int { loaded?.count ?? folder!.count }
    public var classNames: [String] { loaded?.classNames ?? folder!.classNames }
    /// All images decoded (a folder is decoded once, then kept).
    public func materialized() throws -> ImageDataset {
        if let loaded { return loaded }
        let d = try folder!.loadAll()
        loaded = d
        return d
    }
    /// A seeded random subset of `k` images, as a new dataset.
    public func sample(_ k: Int, seed: UInt64) throws -> DatasetObject {
        if let loaded { return DatasetObject(name: "\(name) sample", dataset: try loaded.sample(count: k, seed: seed)) }
        return DatasetObject(name: "\(name) sample", dataset: try folder!.sampleImages(count: k, seed: seed))
    }
    /// Top-1/top-5 of `classify` on the first `limit` images (a folder: `limit` images spread over
    /// its classes), decoding a folder batch by batch so a 50 000-image split never sits in memory.
    /// Progress (through `context`) shows images per second (decoding and the model together).
    public func accuracy(_ classify: (Tensor) throws -> Tensor, limit: Int?, context: RunContext) throws -> (top1: Double, top5: Double?) {
        let start = ProcessInfo.processInfo.systemUptime
        func rate(_ done: Int) -> [(String, Double)] {
            [("img/s", Double(done) / Swift.max(1e-9, ProcessInfo.processInfo.systemUptime - start))]
        }
        if let loaded {
            let total = Swift.min(limit ?? loaded.count, loaded.count), batch = 256
            let progress = context.progress(total: total, label: "accuracy")
            defer { progress.finish() }
            let a = try Evaluation.accuracy(of: classify, on: loaded, batchSize: batch, limit: limit) { b, _ in
                let done = Swift.min(total, b * batch)
                progress.update(done, terms: rate(done))
            }
            return (a.top1, a.top5)
        }
        let f = try limit.map { try folder!.strided($0) } ?? folder!
        var c1 = 0.0, c5 = 0.0, n = 0
        var top5 = true
        let progress = context.progress(total: f.count, label: "accuracy")
        defer { progress.finish() }
        try f.forEachBatch(size: 64) { batch in
            let a = try Evaluation.accuracy(of: classify, on: batch)
            c1 += a.top1 * Double(a.count) / 100
            if let t5 = a.top5 { c5 += t5 * Double(a.count) / 100 } else { top5 = false }
            n += a.count
            progress.update(n, terms: rate(n))
        }
        let d = Double(max(n, 1))
        return (100 * c1 / d, top5 ? 100 * c5 / d : nil)
    }
    /// The first `perClass` images of each class in `classes` (all classes when nil), in class
    /// order, as a new dataset. A folder decodes only those images.
    public func byClass(_ perClass: Int, classes: [Int]?) throws -> DatasetObject {
        let labels = loaded?.labels ?? folder!.samples.map(\.label)
        let wanted = classes ?? Array(0..<classNames.count)
        var taken: [Int: [Int]] = [:]
        for (i, l) in labels.enumerated() where (taken[l]?.count ?? 0) < perClass { taken[l, default: []].append(i) }
        let idx = wanted.flatMap { taken[$0] ?? [] }
        guard !idx.isEmpty else { throw ScriptError("\(name) has no images of classes \(wanted)") }
        if let loaded { return DatasetObject(name: "\(name) by class", dataset: try loaded.subset(idx)) }
        return DatasetObject(name: "\(name) by class", dataset: try folder!.load(idx))
    }
    public var typeName: String { "dataset" }
    public var memberNames: [String] { ["name", "count", "classes", "images", "labels", "mean", "std"] }
    public func member(_ n: String) throws -> Value? {
        switch n {
        case "name": return .string(name)
        case "count": return .int(count)
        case "classes": return .list(classNames.map { .string($0) })
        case "images": return .tensor(try materialized().images)
        case "labels": return .list(try materialized().labels.map { .int($0) })
        case "mean": return .list(try materialized().mean.map { .number(Double($0)) })
        case "std": return .list(try materialized().std.map { .number(Double($0)) })
        default: return nil
        }
    }
    public var description: String { "dataset \(name): \(count) images, \(classNames.count) classes" }
}
