import Foundation
import Tensor

extension Builtins {
    static func installLoss() { register(area: "loss", LossArea.builtins) }

    /// The loss area's builtins.
    enum LossArea {
        /// The table: one line per builtin naming its spec and function (below, in this order).
        static var builtins: [Builtin] { [
            Builtin("cross_entropy", crossEntropySpec, crossEntropy),
            Builtin("soft_cross_entropy", softCrossEntropySpec, softCrossEntropy),
        ] }

        static var crossEntropySpec: BuiltinSpec {
            BuiltinSpec(summary: "Mean cross-entropy of logits (B, C) against integer labels (B).",
                        example: "let logits = tensor([[0, 0], [0, 0]])\nprint(round(item(cross_entropy(logits, [0, 1])), digits: 4))\n# expect: 0.6931",
                        params: [Param("logits", .tensor), Param("labels", .oneOf([.list, .tensor]))])
        }
        static func crossEntropy(_ a: Args) throws -> Value {
            let logits = try a.tensor("logits")
            let labels: [Int]
            switch try a.value("labels") {
            case .tensor(let t):
                guard t.array.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e9 }) else { throw a.bad("labels", "integer labels expected") }
                labels = t.array.map { Int($0) }
            default: labels = try a.ints("labels")
            }
            if let c = logits.shape.last, let bad = labels.first(where: { $0 < 0 || $0 >= c }) {
                throw a.bad("labels", "labels must be in 0…\(c - 1), got \(bad)")
            }
            return .tensor(try Tensor.crossEntropy(logits, labels: labels))
        }

        static var softCrossEntropySpec: BuiltinSpec {
            BuiltinSpec(summary: "Mean cross-entropy of logits (B, C) against target distributions (B, C).",
                        example: "let logits = tensor([[0, 0]])\nprint(round(item(soft_cross_entropy(logits, tensor([[0.5, 0.5]]))), digits: 4))\n# expect: 0.6931",
                        params: [Param("logits", .tensor), Param("targets", .tensor)])
        }
        static func softCrossEntropy(_ a: Args) throws -> Value {
            .tensor(try Tensor.softCrossEntropy(try a.tensor("logits"), targets: try a.tensor("targets")))
        }
    }
}
