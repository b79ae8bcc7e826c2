import Foundation
import Tensor
import Models
import Datasets

extension Builtins {
    static func installModel() { register(area: "model", ModelArea.builtins) }

    /// The model area's builtins.
    enum ModelArea {
        /// The table: one line per builtin naming its spec and function (below, in this order).
        static var builtins: [Builtin] { [
            Builtin("model", modelSpec, model),
            Builtin("has_weights", hasWeightsSpec, hasWeights),
            Builtin("presets", presetsSpec, presets),
            Builtin("forward", forwardSpec, forward),
            Builtin("features", featuresSpec, features),
            Builtin("accuracy", accuracySpec, accuracy),
            Builtin("train", trainSpec, train),
        ] }

        static var modelSpec: BuiltinSpec {
            BuiltinSpec(summary: "A full-precision model: an embedded default, a timm preset with weights, or a checkpoint file.",
                        help: """
                        `model("vit-t")`, `model("vit-s")` and `model("swin-t")` load the shipped Fashion-MNIST checkpoints from models/. \
                        A timm preset (`deit_tiny_patch16_224`, `vit_small_patch16_224`, `swin_small_patch4_window7_224`, …) needs \
                        `weights: "file.safetensors"` with timm's state-dict keys (loaded strictly). `weights: "random"` gives a seeded \
                        random initialisation. A path ending in .safetensors loads one of our own checkpoints, whose header carries the architecture. \
                        `weights: ""` is the same as none (for `param("weights", "")` in recipes). \
                        `model("vit", weights: "f.safetensors")` (also `"deit"`, `"swin"`) loads a timm checkpoint of any geometry, read \
                        from the state dict's shapes: patch size, channels, width, depth, MLP ratio, classes and (ViT) the image size from \
                        `pos_embed`; heads from `heads:` or timm's default of one per 64 channels (Swin: from the relative-position \
                        tables); a Swin's image size from `img_size:` (default 224). A `dist_token` makes it a distilled DeiT (two heads, \
                        logits their mean, as timm evaluates it). A state dict that fits no architecture is refused \
                        with the first key or shape that does not fit.
                        """,
                        example: "let net = model(\"vit-t\", weights: \"random\", seed: 1)\nprint(net.family, net.blocks, net.classes)\n# expect: vit 6 10",
                        params: [Param("name", .string, help: "preset name or .safetensors path"),
                                 Param("weights", .optional(.string), default: .nothing, help: "\"random\", a safetensors path, or \"\" (none)"),
                                 Param("seed", .integer(0...Int(Int32.max)), default: .int(0), help: "seed of a random initialisation"),
                                 Param("heads", .optional(.integer(1...4096)), default: .nothing, help: "attention heads of a \"vit\"/\"deit\" checkpoint (default: width / 64)"),
                                 Param("img_size", .optional(.integer(1...65536)), default: .nothing, help: "input side in pixels for \"vit\"/\"deit\"/\"swin\" checkpoints (square)")])
        }
        static func model(_ a: Args) throws -> Value {
            let seed = UInt64(try a.int("seed"))
            if case .string("random") = try a.value("weights") { a.interpreter.context.recordSeed("model.init", seed) }
            // "" means none, so recipes can read `param("weights", "")` and pass it through.
            let weights = a.isNone("weights") ? nil : try a.string("weights")
            var geometry = CheckpointGeometry()
            if !a.isNone("heads") { geometry.heads = try a.int("heads") }
            if !a.isNone("img_size") { let side = try a.int("img_size"); geometry.imgSize = [side, side] }
            return .object(try ModelStore.load(try a.string("name"), weights: weights == "" ? nil : weights, seed: seed, geometry: geometry))
        }

        static var hasWeightsSpec: BuiltinSpec {
            BuiltinSpec(summary: "Whether a shipped checkpoint exists for an embedded model (models/<name>.safetensors).",
                        example: "print(has_weights(\"no-such-model\"))\n# expect: false",
                        params: [Param("name", .string)])
        }
        static func hasWeights(_ a: Args) throws -> Value {
            .bool(ModelStore.checkpoint(for: try a.string("name")) != nil)
        }

        static var presetsSpec: BuiltinSpec {
            BuiltinSpec(summary: "The names of the model presets (timm's and the embedded ones).",
                        example: "print(len(presets()) > 5)\n# expect: true", params: [])
        }
        static func presets(_ a: Args) throws -> Value {
            .list(Presets.all.map { .string($0.name) })
        }

        static var forwardSpec: BuiltinSpec {
            BuiltinSpec(summary: "Logits (B, classes) of a model (float or quantized) on images (B, C, H, W).",
                        help: "Records on the autodiff tape when the images require grad, so `backward` reaches the pixels.",
                        example: "let net = model(\"vit-t\", weights: \"random\")\nprint(forward(net, zeros([2, 1, 32, 32])).shape)\n# expect: [2, 10]",
                        params: [Param("model", .any), Param("images", .tensor)])
        }
        static func forward(_ a: Args) throws -> Value {
            let (m, _) = try visionModel(a, "model")
            return .tensor(try m.forward(try a.tensor("images")))
        }

        static var featuresSpec: BuiltinSpec {
            BuiltinSpec(summary: "Pre-head features (B, D): the final class token (ViT) or pooled tokens (Swin).",
                        example: "let net = model(\"vit-t\", weights: \"random\")\nprint(features(net, zeros([1, 1, 32, 32])).shape)\n# expect: [1, 64]",
                        params: [Param("model", .any), Param("images", .tensor)])
        }
        static func features(_ a: Args) throws -> Value {
            let (m, _) = try visionModel(a, "model")
            return .tensor(try m.forward(try a.tensor("images"), capture: [], hooks: nil).features)
        }

        static var accuracySpec: BuiltinSpec {
            BuiltinSpec(summary: "Top-1 accuracy in percent of a model (float or quantized) on a dataset.",
                        help: "`k: 5` gives top-5. `limit` evaluates only the first images (quick runs). No gradients are recorded.",
                        example: "let net = model(\"vit-t\", weights: \"random\")\nlet d = dataset(\"fashion-mnist\", split: \"test\", limit: 50)\nprint(accuracy(net, d) <= 100)\n# expect: true",
                        params: [Param("model", .any), Param("data", .object("dataset")),
                                 Param("k", .integer(1...5), default: .int(1), help: "1 (top-1) or 5 (top-5)"),
                                 Param("limit", .optional(.integer(1...10_000_000)), default: .nothing)])
        }
        static func accuracy(_ a: Args) throws -> Value {
            let (m, _) = try visionModel(a, "model")
            let k = try a.int("k")
            guard k == 1 || k == 5 else { throw a.bad("k", "1 or 5 expected, got \(k)") }
            let d = try a.object("data", as: DatasetObject.self)
            let limit = a.isNone("limit") ? nil : try a.int("limit")
            let acc = try d.accuracy({ x in try Interrupt.check(); return try m.forward(x) }, limit: limit, context: a.interpreter.context)
            return .number(k == 5 ? (acc.top5 ?? acc.top1) : acc.top1)
        }

        static var trainSpec: BuiltinSpec {
            BuiltinSpec(summary: "Trains a model on a dataset (AdamW, warm-up + cosine, crop + flip), resumable from a checkpoint.",
                        help: """
                        Trains `model` in place and returns the final test accuracy. With `checkpoint`, progress (weights, optimizer \
                        moments, position) is saved every 100 steps and every epoch, and a rerun resumes where it stopped. This is how \
                        the shipped models were made (recipes/train_models.dfq).
                        """,
                        example: "let net = model(\"vit-t\", weights: \"random\")\nlet d = dataset(\"fashion-mnist\", split: \"test\", limit: 64)\nprint(train(net, d, d, epochs: 1, batch: 32, log: false) >= 0)\n# expect: true",
                        params: [Param("model", .object("model")), Param("train", .object("dataset")), Param("test", .object("dataset")),
                                 Param("epochs", .integer(1...1000), default: .int(8)), Param("batch", .integer(1...4096), default: .int(128)),
                                 Param("lr", .number, default: .number(1e-3)), Param("seed", .integer(0...Int(Int32.max)), default: .int(0)),
                                 Param("checkpoint", .optional(.string), default: .nothing),
                                 Param("log", .bool, default: .bool(true), help: "print progress lines"),
                                 Param("smoothing", .number, default: .number(0.1), help: "label smoothing ε in [0, 1)"),
                                 Param("weight_decay", .number, default: .number(0.05), help: "AdamW decoupled weight decay on matrices"),
                                 Param("augment", .bool, default: .bool(true), help: "random crop (2-pixel padding) + horizontal flip")])
        }
        static func train(_ a: Args) throws -> Value {
            let m = try a.object("model", as: ModelObject.self).model
            var cfg = TrainingConfig()
            cfg.epochs = try a.int("epochs"); cfg.batchSize = try a.int("batch"); cfg.lr = try a.float("lr")
            cfg.seed = UInt64(try a.int("seed"))
            guard cfg.lr.isFinite, cfg.lr > 0 else { throw a.bad("lr", "positive finite number expected, got \(cfg.lr)") }
            let eps = try a.float("smoothing"), wd = try a.float("weight_decay")
            guard eps >= 0, eps < 1 else { throw a.bad("smoothing", "number in [0, 1) expected, got \(eps)") }
            guard wd >= 0, wd.isFinite else { throw a.bad("weight_decay", "non-negative finite number expected, got \(wd)") }
            cfg.labelSmoothing = eps; cfg.weightDecay = wd
            if !(try a.bool("augment")) { cfg.cropPadding = 0; cfg.flipProbability = 0 }
            let trainer = Trainer(model: m, config: cfg)
            let verbose = try a.bool("log")
            trainer.log = { line in if verbose { a.interpreter.output(line + "\n") } }
            trainer.shouldStop = { Interrupt.requested }
            var ckpt: String? = nil
            if !a.isNone("checkpoint") {
                let url = a.interpreter.context.outputURL(try a.string("checkpoint"))
                try Output.prepareDirectory(for: url)
                ckpt = url.path
                if FileManager.default.fileExists(atPath: ckpt!) { try trainer.resume(from: ckpt!) }
            }
            let train = try a.object("train", as: DatasetObject.self).materialized()
            let test = try a.object("test", as: DatasetObject.self).materialized()
            let report = try trainer.run(train: train, test: test, checkpoint: ckpt, evalLimit: 2000)
            try Interrupt.check()
            return .number(report.final?.top1 ?? 0)
        }
    }
}

