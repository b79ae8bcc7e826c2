import Foundation
import Tensor

/// Eval-time preprocessing of a model (timm's `pretrained_cfg`): how images become inputs.
public struct Preprocessing: Codable, Equatable, Sendable {
    public var inputSize: [Int]          // (C, H, W)
    public var cropPct: Double           // resize short side to floor(H / cropPct), then center crop
    public var interpolation: String     // "bicubic" | "bilinear"
    public var mean: [Float]
    public var std: [Float]
    public init(inputSize: [Int], cropPct: Double, interpolation: String, mean: [Float], std: [Float]) {
        self.inputSize = inputSize; self.cropPct = cropPct; self.interpolation = interpolation; self.mean = mean; self.std = std
    }
    public static let imagenet: ([Float], [Float]) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    public static let inception: ([Float], [Float]) = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])

    /// The normalization of a model that names none: Fashion-MNIST's for 1 channel, ImageNet's
    /// for 3, (0.5, 0.5) per channel otherwise.
    public static func defaultNormalization(channels: Int) -> (mean: [Float], std: [Float]) {
        if channels == 1 { return (Presets.fashionMNIST.mean, Presets.fashionMNIST.std) }
        if channels == 3 { return imagenet }
        return ([Float](repeating: 0.5, count: channels), [Float](repeating: 0.5, count: channels))
    }
}

/// Architecture of a VisionTransformer (ViT and DeiT share timm's `VisionTransformer`).
public struct ViTConfig: Codable, Equatable, Sendable {
    public var imgSize: [Int]        // (H, W)
    public var patchSize: Int
    public var inChans: Int
    public var numClasses: Int
    public var embedDim: Int
    public var depth: Int
    public var numHeads: Int
    public var mlpRatio: Double
    public var qkvBias: Bool
    public var eps: Float            // LayerNorm eps: 1e-6 in timm's ViT/DeiT
    /// A distilled DeiT (timm's `VisionTransformerDistilled`): a distillation token after the class
    /// token and a second head on it; the logits are the mean of the two heads, as in timm's eval.
    public var distilled: Bool
    public init(imgSize: [Int], patchSize: Int, inChans: Int = 3, numClasses: Int = 1000, embedDim: Int, depth: Int,
                numHeads: Int, mlpRatio: Double = 4, qkvBias: Bool = true, eps: Float = 1e-6, distilled: Bool = false) {
        self.imgSize = imgSize; self.patchSize = patchSize; self.inChans = inChans; self.numClasses = numClasses
        self.embedDim = embedDim; self.depth = depth; self.numHeads = numHeads; self.mlpRatio = mlpRatio
        self.qkvBias = qkvBias; self.eps = eps; self.distilled = distilled
    }

    enum CodingKeys: String, CodingKey { case imgSize, patchSize, inChans, numClasses, embedDim, depth, numHeads, mlpRatio, qkvBias, eps, distilled }

    // `distilled` is written only when true, so every other configuration encodes (and hashes
    // into cache keys) as it always has, and older checkpoints' metadata still decodes.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(imgSize: try c.decode([Int].self, forKey: .imgSize), patchSize: try c.decode(Int.self, forKey: .patchSize),
                  inChans: try c.decode(Int.self, forKey: .inChans), numClasses: try c.decode(Int.self, forKey: .numClasses),
                  embedDim: try c.decode(Int.self, forKey: .embedDim), depth: try c.decode(Int.self, forKey: .depth),
                  numHeads: try c.decode(Int.self, forKey: .numHeads), mlpRatio: try c.decode(Double.self, forKey: .mlpRatio),
                  qkvBias: try c.decode(Bool.self, forKey: .qkvBias), eps: try c.decode(Float.self, forKey: .eps),
                  distilled: try c.decodeIfPresent(Bool.self, forKey: .distilled) ?? false)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(imgSize, forKey: .imgSize); try c.encode(patchSize, forKey: .patchSize); try c.encode(inChans, forKey: .inChans)
        try c.encode(numClasses, forKey: .numClasses); try c.encode(embedDim, forKey: .embedDim); try c.encode(depth, forKey: .depth)
        try c.encode(numHeads, forKey: .numHeads); try c.encode(mlpRatio, forKey: .mlpRatio); try c.encode(qkvBias, forKey: .qkvBias)
        try c.encode(eps, forKey: .eps)
        if distilled { try c.encode(distilled, forKey: .distilled) }
    }

    /// Tokens before the patches: the class token, and the distillation token of a distilled DeiT.
    public var prefixTokens: Int { distilled ? 2 : 1 }
    public var grid: (h: Int, w: Int) { (imgSize[0] / patchSize, imgSize[1] / patchSize) }
    public var numPatches: Int { grid.h * grid.w }
    public var mlpHidden: Int { Int(Double(embedDim) * mlpRatio) }
}

/// Architecture of a SwinTransformer (timm's current layout: patch merging at the start of stages 2+).
public struct SwinConfig: Codable, Equatable, Sendable {
    public var imgSize: [Int]
    public var patchSize: Int
    public var inChans: Int
    public var numClasses: Int
    public var embedDim: Int
    public var depths: [Int]
    public var numHeads: [Int]
    public var windowSize: Int
    public var mlpRatio: Double
    public var qkvBias: Bool
    public var eps: Float            // 1e-5 in timm's Swin
    public init(imgSize: [Int], patchSize: Int = 4, inChans: Int = 3, numClasses: Int = 1000, embedDim: Int, depths: [Int],
                numHeads: [Int], windowSize: Int = 7, mlpRatio: Double = 4, qkvBias: Bool = true, eps: Float = 1e-5) {
        self.imgSize = imgSize; self.patchSize = patchSize; self.inChans = inChans; self.numClasses = numClasses
        self.embedDim = embedDim; self.depths = depths; self.numHeads = numHeads; self.windowSize = windowSize
        self.mlpRatio = mlpRatio; self.qkvBias = qkvBias; self.eps = eps
    }
    public var totalBlocks: Int { depths.reduce(0, +) }
}

/// Any supported architecture.
public enum Architecture: Codable, Equatable, Sendable {
    case vit(ViTConfig)
    case swin(SwinConfig)

    public var family: String { switch self { case .vit: return "vit"; case .swin: return "swin" } }
    public var numClasses: Int { switch self { case .vit(let c): return c.numClasses; case .swin(let c): return c.numClasses } }
    public var inputShape: [Int] {
        switch self {
        case .vit(let c): return [c.inChans] + c.imgSize
        case .swin(let c): return [c.inChans] + c.imgSize
        }
    }
    /// Number of transformer blocks (Swin: counted across all stages).
    public var numBlocks: Int { switch self { case .vit(let c): return c.depth; case .swin(let c): return c.totalBlocks } }

    public func json() -> String {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        return String(data: try! enc.encode(self), encoding: .utf8)!
    }
    public static func from(json: String) throws -> Architecture {
        let a = try JSONDecoder().decode(Architecture.self, from: Data(json.utf8))
        try a.validate()
        return a
    }

    /// Checks that the architecture can be built: positive sizes that divide evenly, heads that
    /// divide the width, and bounded sizes (a damaged checkpoint's metadata is refused here, not
    /// trapped on or allocated in the model's constructor). Limits are far above any timm model.
    public func validate() throws {
        func need(_ ok: Bool, _ what: String) throws { if !ok { throw ModelError.config("architecture: \(what)") } }
        func common(_ img: [Int], _ patch: Int, _ chans: Int, _ classes: Int, _ dim: Int, _ mlp: Double) throws {
            try need(img.count == 2 && img.allSatisfy { (1...4096).contains($0) }, "image size must be two sizes in 1…4096, got \(img)")
            try need((1...img.min()!).contains(patch), "patch size must be in 1…\(img.min()!), got \(patch)")
            try need(img.allSatisfy { $0 % patch == 0 }, "image size \(img) is not a multiple of the patch size \(patch)")
            try need((1...64).contains(chans), "input channels must be in 1…64, got \(chans)")
            try need((1...100_000).contains(classes), "classes must be in 1…100000, got \(classes)")
            try need((1...16384).contains(dim), "embedding width must be in 1…16384, got \(dim)")
            try need(mlp.isFinite && mlp > 0 && mlp <= 64 && Int(Double(dim) * mlp) >= 1, "mlp ratio must be in (0, 64], got \(mlp)")
        }
        // Every limit above holds, yet width 16384 at depth 256 would still build terabytes of weights
        // before a single one is read: the model as a whole must fit the per-tensor bound eight times over.
        func fits(_ largest: Double, _ total: Double) throws {
            let cap = Double(Tensor.maxBytes) / 4
            try need(largest <= cap && total <= 8 * cap,
                     "the model would hold \(Int(total)) weights (largest tensor \(Int(largest))), over the limit of \(Int(8 * cap)) (\(Int(cap)) per tensor)")
        }
        switch self {
        case .vit(let c):
            try common(c.imgSize, c.patchSize, c.inChans, c.numClasses, c.embedDim, c.mlpRatio)
            try need((1...256).contains(c.depth), "depth must be in 1…256, got \(c.depth)")
            try need(c.numHeads >= 1 && c.embedDim % c.numHeads == 0, "heads (\(c.numHeads)) must divide the width \(c.embedDim)")
            let d = Double(c.embedDim), hid = (d * c.mlpRatio).rounded(.down)
            let block = 4 * d * d + 2 * d * hid
            try fits(Swift.max(3 * d * d, d * hid, Double(c.numClasses) * d),
                     Double(c.depth) * block + Double(c.numPatches + 1) * d + Double(c.numClasses) * d)
        case .swin(let c):
            try common(c.imgSize, c.patchSize, c.inChans, c.numClasses, c.embedDim, c.mlpRatio)
            try need(!c.depths.isEmpty && c.depths.count <= 8 && c.depths.allSatisfy { (1...256).contains($0) }, "depths must be 1–8 stages of 1…256 blocks, got \(c.depths)")
            try need(c.numHeads.count == c.depths.count, "one head count per stage expected, got \(c.numHeads) for \(c.depths.count) stages")
            try need(c.windowSize >= 1, "window size must be ≥ 1, got \(c.windowSize)")
            try need(c.embedDim << (c.depths.count - 1) <= 65536, "the last stage's width \(c.embedDim << (c.depths.count - 1)) is too large")
            var h = c.imgSize[0] / c.patchSize, w = c.imgSize[1] / c.patchSize
            for (s, heads) in c.numHeads.enumerated() {
                if s > 0 {
                    try need(h % 2 == 0 && w % 2 == 0, "stage \(s): a \(h)×\(w) grid cannot be merged 2×2")
                    h /= 2; w /= 2
                }
                let win = Swift.min(c.windowSize, Swift.min(h, w))
                try need(h % win == 0 && w % win == 0, "stage \(s): the \(h)×\(w) grid is not a multiple of the window \(win)")
                try need(heads >= 1 && (c.embedDim << s) % heads == 0, "stage \(s): heads (\(heads)) must divide the width \(c.embedDim << s)")
            }
            let widths = c.depths.indices.map { Double(c.embedDim << $0) }
            let blocks = zip(widths, c.depths).map { d, n in Double(n) * (4 + 2 * c.mlpRatio) * d * d }.reduce(0, +)
            try fits(widths.map { Swift.max(3 * $0 * $0, c.mlpRatio * $0 * $0) }.max()! , blocks + Double(c.numClasses) * widths.last!)
        }
    }
}

/// A named preset: architecture plus preprocessing.
public struct ModelPreset: Sendable {
    public let name: String
    public let architecture: Architecture
    public let preprocessing: Preprocessing
    public let summary: String
}

/// The preset table: timm's ImageNet models and the project's own Fashion-MNIST models.
public enum Presets {
    static func imagenet(_ name: String, _ a: Architecture, cropPct: Double, mean: ([Float], [Float]), _ summary: String) -> ModelPreset {
        ModelPreset(name: name, architecture: a,
                    preprocessing: Preprocessing(inputSize: [3, 224, 224], cropPct: cropPct, interpolation: "bicubic", mean: mean.0, std: mean.1),
                    summary: summary)
    }
    static func vit(_ d: Int, _ depth: Int, _ h: Int) -> Architecture {
        .vit(ViTConfig(imgSize: [224, 224], patchSize: 16, embedDim: d, depth: depth, numHeads: h))
    }
    static func swin(_ d: Int, _ depths: [Int], _ h: [Int]) -> Architecture {
        .swin(SwinConfig(imgSize: [224, 224], embedDim: d, depths: depths, numHeads: h))
    }
    /// Fashion-MNIST preprocessing: 28×28 zero-padded to 32×32, one channel, train-set mean/std.
    public static let fashionMNIST = Preprocessing(inputSize: [1, 32, 32], cropPct: 1, interpolation: "none",
                                                   mean: [0.218_999_83], std: [0.331_811_37])  // = Datasets.FashionMNIST.mean/std (tested)

    public static let all: [ModelPreset] = [
        imagenet("deit_tiny_patch16_224", vit(192, 12, 3), cropPct: 0.875, mean: Preprocessing.imagenet, "DeiT-T, 5.7M params"),
        imagenet("deit_small_patch16_224", vit(384, 12, 6), cropPct: 0.875, mean: Preprocessing.imagenet, "DeiT-S, 22M params"),
        imagenet("deit_base_patch16_224", vit(768, 12, 12), cropPct: 0.875, mean: Preprocessing.imagenet, "DeiT-B, 86M params"),
        imagenet("vit_small_patch16_224", vit(384, 12, 6), cropPct: 0.9, mean: Preprocessing.inception, "ViT-S (augreg), 22M params"),
        imagenet("vit_base_patch16_224", vit(768, 12, 12), cropPct: 0.9, mean: Preprocessing.inception, "ViT-B (augreg), 86M params"),
        imagenet("swin_tiny_patch4_window7_224", swin(96, [2, 2, 6, 2], [3, 6, 12, 24]), cropPct: 0.9, mean: Preprocessing.imagenet, "Swin-T, 28M params"),
        imagenet("swin_small_patch4_window7_224", swin(96, [2, 2, 18, 2], [3, 6, 12, 24]), cropPct: 0.9, mean: Preprocessing.imagenet, "Swin-S, 50M params"),
        imagenet("swin_base_patch4_window7_224", swin(128, [2, 2, 18, 2], [4, 8, 16, 32]), cropPct: 0.9, mean: Preprocessing.imagenet, "Swin-B, 88M params"),
        ModelPreset(name: "vit-t", architecture: .vit(ViTConfig(imgSize: [32, 32], patchSize: 4, inChans: 1, numClasses: 10,
                                                               embedDim: 64, depth: 6, numHeads: 2, mlpRatio: 4)),
                    preprocessing: fashionMNIST, summary: "small ViT on Fashion-MNIST (patch 4, dim 64, depth 6, 2 heads)"),
        ModelPreset(name: "vit-s", architecture: .vit(ViTConfig(imgSize: [32, 32], patchSize: 4, inChans: 1, numClasses: 10,
                                                               embedDim: 96, depth: 6, numHeads: 3, mlpRatio: 4)),
                    preprocessing: fashionMNIST, summary: "larger ViT on Fashion-MNIST (patch 4, dim 96, depth 6, 3 heads)"),
        ModelPreset(name: "swin-t", architecture: .swin(SwinConfig(imgSize: [32, 32], patchSize: 2, inChans: 1, numClasses: 10,
                                                                  embedDim: 32, depths: [2, 2, 2], numHeads: [2, 4, 8], windowSize: 4)),
                    preprocessing: fashionMNIST, summary: "small Swin on Fashion-MNIST (patch 2, window 4, three stages)"),
    ]

    public static func named(_ name: String) -> ModelPreset? { all.first { $0.name == name } }
}
