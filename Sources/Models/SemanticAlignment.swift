import Tensor

/// The semantic-alignment metric of the paper's Table 1 (METHOD.md §5, [decision]): for each image
/// with target class c, the cosine similarity of its final feature to the mean feature of the real
/// reference images of class c; for the reference images themselves the mean leaves the image out.
public enum SemanticAlignment {
    /// Per-image scores. `features` (B, D) with `labels` (B); `reference` (R, D) with
    /// `referenceLabels` (R). `leaveOneOut`: the images ARE the reference (same order), so image i is
    /// removed from its own class mean. An image whose class has no (other) reference image gets nil.
    public static func scores(features: Tensor, labels: [Int], reference: Tensor, referenceLabels: [Int],
                              leaveOneOut: Bool) throws -> [Float?] {
        guard features.rank == 2, reference.rank == 2, features.shape[1] == reference.shape[1] else {
            throw TensorError.shape(op: "SemanticAlignment.scores",
                                    message: "features (B, D) and reference (R, D) with the same D expected, got \(features.shape) and \(reference.shape)")
        }
        let b = features.shape[0], r = reference.shape[0], d = features.shape[1]
        guard labels.count == b, referenceLabels.count == r else {
            throw TensorError.shape(op: "SemanticAlignment.scores",
                                    message: "\(labels.count) labels for \(b) images, \(referenceLabels.count) labels for \(r) reference images")
        }
        guard !leaveOneOut || (b == r && labels == referenceLabels) else {
            throw TensorError.argument(op: "SemanticAlignment.scores", message: "leave-one-out needs the images to be the reference set itself")
        }
        // Per-class sums and counts of the reference features (in Double: thousands of images).
        var sums: [Int: [Double]] = [:], counts: [Int: Int] = [:]
        let rf = reference.array, ff = features.array  // tensors are contiguous
        for i in 0..<r {
            let c = referenceLabels[i]
            var s = sums[c] ?? [Double](repeating: 0, count: d)
            for j in 0..<d { s[j] += Double(rf[i * d + j]) }
            sums[c] = s
            counts[c, default: 0] += 1
        }
        return (0..<b).map { i -> Float? in
            let c = labels[i]
            guard var mean = sums[c], let n0 = counts[c] else { return nil }
            let n = leaveOneOut ? n0 - 1 : n0
            guard n > 0 else { return nil }
            if leaveOneOut { for j in 0..<d { mean[j] -= Double(rf[i * d + j]) } }
            var dot = 0.0, nf = 0.0, nm = 0.0
            for j in 0..<d {
                let f = Double(ff[i * d + j]), m = mean[j] / Double(n)
                dot += f * m; nf += f * f; nm += m * m
            }
            return Float(dot / max((nf * nm).squareRoot(), 1e-12))
        }
    }
}
