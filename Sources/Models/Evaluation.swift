import Tensor
import Datasets

/// Top-1 / top-5 accuracy (in percent) of a model on a labelled dataset.
public struct Accuracy: CustomStringConvertible, Equatable {
    public var top1: Double
    public var top5: Double?
    public var count: Int
    public var description: String {
        "top-1 \(String(format: "%.2f", top1))%" + (top5.map { String(format: ", top-5 %.2f%%", $0) } ?? "") + " on \(count) images"
    }
}

public enum Evaluation {
    /// Evaluates `classify` (images (B, C, H, W) → logits (B, classes)) batch by batch, without
    /// recording gradients. Top-5 is reported when there are more than 5 classes.
    public static func accuracy(of classify: (Tensor) throws -> Tensor, on data: ImageDataset, batchSize: Int = 256,
                                limit: Int? = nil, onBatch: ((Int, Int) -> Void)? = nil) throws -> Accuracy {
        let ds = try limit.map { try data.prefix($0) } ?? data
        var c1 = 0, c5 = 0
        let batches = try ds.batches(size: batchSize)
        for (bi, batch) in batches.enumerated() {
            let logits = try noGrad { try classify(batch.images) }
            let k = logits.shape[1]
            for (i, label) in batch.labels.enumerated() {
                let row = Array(UnsafeBufferPointer(start: logits.ptr + i * k, count: k))
                // A NaN or infinite logit is never a correct answer (a NaN compares false to everything,
                // so it would otherwise rank first).
                guard row.allSatisfy(\.isFinite) else { continue }
                let target = row[label]
                // Rank = number of classes scoring strictly higher (ties count in our favour, like argmax order).
                let higher = row.enumerated().filter { $0.element > target || ($0.element == target && $0.offset < label) }.count
                if higher == 0 { c1 += 1 }
                if higher < 5 { c5 += 1 }
            }
            onBatch?(bi + 1, batches.count)
        }
        let n = Double(max(ds.count, 1))
        return Accuracy(top1: 100 * Double(c1) / n, top5: data.classNames.count > 5 ? 100 * Double(c5) / n : nil, count: ds.count)
    }

    public static func accuracy(of model: VisionModel, on data: ImageDataset, batchSize: Int = 256, limit: Int? = nil) throws -> Accuracy {
        try accuracy(of: { try model.forward($0) }, on: data, batchSize: batchSize, limit: limit)
    }
}
