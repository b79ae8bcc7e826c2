import Foundation
import Tensor

/// Cost and description of a model, for model cards and benchmarks.
public enum ModelCard {
    /// Multiply-accumulate operations × 2 of one image's forward pass: every linear layer, the
    /// patch embedding and both attention matmuls (LayerNorm, softmax and GELU are not counted).
    public static func flopsPerImage(_ a: Architecture) -> Double {
        switch a {
        case .vit(let c):
            let n = Double(c.numPatches + c.prefixTokens), d = Double(c.embedDim), hid = Double(c.mlpHidden)
            let patch = Double(c.numPatches) * d * Double(c.inChans * c.patchSize * c.patchSize)
            let block = n * d * 3 * d + 2 * n * n * d + n * d * d + 2 * n * d * hid
            return 2 * (patch + Double(c.depth) * block + Double(c.distilled ? 2 : 1) * d * Double(c.numClasses))
        case .swin(let c):
            var h = c.imgSize[0] / c.patchSize, w = c.imgSize[1] / c.patchSize
            var total = Double(h * w) * Double(c.embedDim) * Double(c.inChans * c.patchSize * c.patchSize)
            for (s, depth) in c.depths.enumerated() {
                let d = Double(c.embedDim << s)
                if s > 0 { h /= 2; w /= 2; total += Double(h * w) * 4 * (d / 2) * d }
                let n = Double(h * w), win = Double(min(c.windowSize, min(h, w)))
                let hid = d * c.mlpRatio
                let block = n * d * 3 * d + 2 * n * win * win * d + n * d * d + 2 * n * d * hid
                total += Double(depth) * block
            }
            return 2 * (total + Double(c.embedDim << (c.depths.count - 1)) * Double(c.numClasses))
        }
    }

    /// A Markdown model card.
    public static func markdown(name: String, model: VisionModel, summary: String, accuracy: String,
                                training: String, command: String, seconds: Double) -> String {
        let a = model.architecture
        return """
        # \(name)

        \(summary)

        | | |
        |---|---|
        | architecture | `\(a.json())` |
        | parameters | \(model.parameterCount) |
        | forward FLOPs per image | \(String(format: "%.1f M", flopsPerImage(a) / 1e6)) |
        | test accuracy (Fashion-MNIST, 10 000 images) | \(accuracy) |
        | training | \(training) |
        | training time | \(String(format: "%.0f", seconds / 60)) min on 2 shared cores |

        Made by:

        ```
        \(command)
        ```

        """
    }
}
