import Foundation
import Tensor
import Models
import Synthesis

/// Builtins that look inside a model on a set of images: the semantic-alignment metric of Table 1
/// and the raw attention outputs PSAQ-ViT's loss reads (for the tutorial).
extension Builtins {
    static func installAnalysis() { register(area: "model", AnalysisArea.builtins) }

    /// The model area's analysis builtins (registered under "model").
    enum AnalysisArea {
        /// The table: one line per builtin naming its spec and function (below, in this order).
        static var builtins: [Builtin] { [
            Builtin("semantic_alignment", semanticAlignmentSpec, semanticAlignment),
            Builtin("attention_outputs", attentionOutputsSpec, attentionOutputs),
        ] }

        static var semanticAlignmentSpec: BuiltinSpec {
            BuiltinSpec(summary: "Table 1's metric: mean cosine similarity of each image's feature to its class's mean real feature.",
                        help: """
                        For every image with class c (an image set's target labels, a dataset's labels, or `labels` for a tensor), \
                        the cosine similarity of its pre-head feature (`features`) to the mean feature of the `reference` images \
                        of class c. `leave_one_out: true` when the images are the reference set itself: each image is left out of \
                        its own class mean. Images whose class has no (other) reference image are skipped. Returns \
                        {mean, std, count, per_image} (per_image has nan for skipped images).
                        """,
                        example: """
                        let net = model("vit-t", weights: "random")
                        let real = dataset("fashion-mnist", split: "test", limit: 40)
                        let s = semantic_alignment(net, real, reference: real, leave_one_out: true)
                        print(s.count, s.mean > -1 and s.mean <= 1)
                        # expect: 40 true
                        """,
                        params: [Param("model", .any),
                                 Param("images", .oneOf([.tensor, .object("imageset"), .object("dataset")])),
                                 Param("reference", .oneOf([.object("dataset"), .object("imageset")]), help: "real images with labels"),
                                 Param("labels", .optional(.list), default: .nothing, help: "class of each image when `images` is a tensor"),
                                 Param("leave_one_out", .bool, default: .bool(false), help: "the images are the reference set")])
        }
        static func semanticAlignment(_ a: Args) throws -> Value {
            let (m, _) = try visionModel(a, "model")
            let (x, labels) = try labelledImages(a, "images")
            let (rx, rl) = try labelledImages(a, "reference")
            func feats(_ t: Tensor) throws -> Tensor {
                try noGrad {
                    var parts: [Tensor] = []
                    for s in stride(from: 0, to: t.shape[0], by: 128) {
                        try Interrupt.check()
                        parts.append(try m.forward(t.slice(axis: 0, start: s, end: min(s + 128, t.shape[0])), capture: [], hooks: nil).features)
                    }
                    return try Tensor.concat(parts, axis: 0)
                }
            }
            let f = try feats(x)
            let loo = try a.bool("leave_one_out")
            let rf = loo ? f : try feats(rx)
            let scores: [Float?]
            do {
                scores = try SemanticAlignment.scores(features: f, labels: labels, reference: rf, referenceLabels: rl, leaveOneOut: loo)
            } catch { throw a.bad(loo ? "leave_one_out" : "images", "\(error)") }
            let kept = scores.compactMap { $0 }.map(Double.init)
            guard !kept.isEmpty else { throw a.bad("reference", "no image has a class with (other) reference images") }
            let mean = kept.reduce(0, +) / Double(kept.count)
            let std = (kept.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(kept.count)).squareRoot()
            let per = Tensor(scores.map { $0 ?? .nan })
            return .record(RecordRef([("mean", .number(mean)), ("std", .number(std)), ("count", .int(kept.count)),
                                      ("per_image", .tensor(per))]))
        }

        static var attentionOutputsSpec: BuiltinSpec {
            BuiltinSpec(summary: "Every block's attention output softmax(QKᵀ/√d)·V per head: a list of (B, H, N, d) tensors.",
                        help: "Swin gives (B·nW, H, w², d) per window. This is what PSAQ-ViT's `psaq_entropy` reads; recorded on the tape when the images require grad.",
                        example: """
                        let outs = attention_outputs(model("vit-t", weights: "random"), zeros([2, 1, 32, 32]))
                        print(len(outs), outs[0].shape)
                        # expect: 6 [2, 2, 65, 32]
                        """,
                        params: [Param("model", .any), Param("images", .oneOf([.tensor, .object("imageset")]))])
        }
        static func attentionOutputs(_ a: Args) throws -> Value {
            let (m, _) = try visionModel(a, "model")
            let x = try synthImages(a, "images")
            return .list(try m.forward(x, capture: [.attentionOutput], hooks: nil).attentionOutput.map { .tensor($0) })
        }
    }

    /// Images (B, C, H, W) with their labels from an image set, a dataset, or a tensor plus `labels`.
    static func labelledImages(_ a: Args, _ name: String) throws -> (Tensor, [Int]) {
        switch try a.value(name) {
        case .object(let o as ImageSetValue): return (o.set.images, o.set.labels)
        case .object(let o as DatasetObject):
            let d = try o.materialized()
            return (d.images, d.labels)
        default:
            let t = try synthImages(a, name)
            guard !a.isNone("labels") else { throw a.bad("labels", "a tensor of images needs `labels`") }
            let labels = try a.list("labels").map { v -> Int in
                guard case .number(let n) = v, n == n.rounded(), n >= 0 else { throw a.bad("labels", "class indices expected, found \(v.brief)") }
                return Int(n)
            }
            guard labels.count == t.shape[0] else { throw a.bad("labels", "\(labels.count) labels for \(t.shape[0]) images") }
            return (t, labels)
        }
    }
}
