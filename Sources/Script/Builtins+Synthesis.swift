import Foundation
import Tensor
import Models
import Synthesis
import Plot

extension Builtins {
    /// Registers the synthesis table (listed in `Builtins.installers`).
    static func installSynthesis() { register(area: "synthesis", synthesisBuiltins()) }

    /// The synthesis area's builtins (fresh objects: tests bind them without the global table).
    static func synthesisBuiltins() -> [Builtin] { SynthesisArea.builtins }

    /// The synthesis area's builtins.
    enum SynthesisArea {
        /// The table: one line per builtin naming its spec and function (below, in this order).
        static var builtins: [Builtin] { [
            Builtin("synthesize", synthesizeSpec, synthesize),
            Builtin("priors", priorsSpec, priors),
            Builtin("attention", attentionSpec, attention),
            Builtin("psaq_entropy", psaqEntropySpec, psaqEntropy),
            Builtin("apa_loss", apaLossSpec, apaLoss),
            Builtin("tv_loss", tvLossSpec, tvLoss),
            Builtin("show", showSpec, show),
            Builtin("load_images", loadImagesSpec, loadImages),
        ] }

        static var modelParam: Param {
            Param("model", .object("model"), help: "a full-precision model")
        }

        static var apaBlocksParam: Param {
            Param("apa_blocks", .choice(APABlockRange.allCases.map(\.rawValue)), default: .string("paper"),
                  help: "APA's blocks: \"paper\" (1-based L/2 … L), \"latter_half\" or \"all\"")
        }

        static var synthesizeSpec: BuiltinSpec {
            BuiltinSpec(summary: "Calibration images for a model: \"noise\", \"real\", \"psaq\" (PSAQ-ViT), \"smi\" (Sparse Model Inversion) or \"sardfq\" (APA + MSR + SL).",
                        help: """
                        Images start as N(0, 1) in the model's normalized space and are optimised with Adam (betas 0.5, 0.9), \
                        two rounds of warm-up + cosine, random roll jitter and flips, clamped to the image of [0, 1] (METHOD.md §2–3). \
                        `apa`, `msr`, `sl` switch SARDFQ's components; without all three the loss is CE + TV. `real` gives real \
                        images (B, C, H, W) for method "real" and prior "real". The result is cached by a hash of the weights, \
                        the options and the seed; the same seed gives the same images bit for bit. `on_snapshot(iter, images)` \
                        is called every `snapshot_every` iterations. Method "smi" (ViT/DeiT only) is Sparse Model Inversion: \
                        CE + TV-L2 with Adam (lr 0.25, betas 0.5, 0.99), rolls up to 1/8 of the side, and at each iteration of \
                        `prune_at` the patches the class token attends to least (`prune_ratio` of those left) leave every later \
                        pass; its images keep only the remaining patches (docs/synthesis.md, "SMI").
                        """,
                        example: "let net = model(\"vit-t\", weights: \"random\")\nlet imgs = synthesize(net, method: \"sardfq\", images: 4, iters: 4, seed: 1)\nprint(imgs.images.shape)\n# expect: [4, 1, 32, 32]",
                        params: [modelParam,
                                 Param("method", .choice(SynthesisMethod.allCases.map(\.rawValue)), default: .string("sardfq")),
                                 Param("images", .integer(1...4096), default: .int(32), help: "number of images"),
                                 Param("iters", .optional(.integer(1...1_000_000)), default: .nothing,
                                       help: "optimisation steps (default 1000; SMI 4000)"),
                                 Param("seed", .integer(0...Int(Int32.max)), default: .int(0)),
                                 Param("apa", .bool, default: .bool(true)), Param("msr", .bool, default: .bool(true)),
                                 Param("sl", .bool, default: .bool(true)),
                                 Param("alpha1", .optional(.number), default: .nothing, help: "weight of the APA loss (default 1000 for ViT, 1 for Swin)"),
                                 Param("k_apa", .integer(1...64), default: .int(5), help: "mixture components per prior"),
                                 Param("k_msr", .integer(1...16), default: .int(4), help: "at most this many MSR regions per image"),
                                 Param("prior", .choice(PriorKind.allCases.map(\.rawValue)), default: .string("gmm")),
                                 apaBlocksParam,
                                 Param("depth_weight", .bool, default: .bool(true), help: "weigh block l by (l+1)/L"),
                                 Param("apa_view", .choice(APAView.allCases.map(\.rawValue)), default: .string("clean"),
                                       help: "APA on the \"clean\" (un-augmented) image, on the augmented one with \"moved\" priors, or with \"fixed\" priors"),
                                 Param("window_priors", .bool, default: .bool(true), help: "Swin: project priors onto what windowed attention can reach"),
                                 Param("sl_scale", .choice(SoftLabelScale.allCases.map(\.rawValue)), default: .string("matched"),
                                       help: "soft-label logits: \"matched\" to the class count (U(5, 10) + ln((K−1)/999)) or the paper's \"literal\" U(5, 10)"),
                                 Param("regions", .choice(RegionWeighting.allCases.map(\.rawValue)), default: .string("separate"),
                                       help: "MSR crops in the cross-entropy: \"separate\" mean beside the whole images', or \"pooled\" with them"),
                                 Param("msr_every", .integer(1...1_000_000), default: .int(1), help: "run MSR's region crops every k-th iteration"),
                                 Param("flip", .bool, default: .bool(true), help: "random horizontal flips (p = 0.5)"),
                                 Param("jitter", .optional(.list), default: .nothing,
                                       help: "largest roll offset in pixels per round (default 15 and 30 scaled by height/224)"),
                                 Param("lr", .optional(.number), default: .nothing, help: "default 0.20 (ViT) or 0.25 (Swin)"),
                                 Param("tau_scaling", .choice(TauScaling.allCases.map(\.rawValue)), default: .string("auto"),
                                       help: "how the TV target follows the image size and the model: \"auto\" (\"start\" on Swin, \"sqrt_pixels\" on ViT/DeiT), \"sqrt_pixels\", \"pixels\" or \"start\" (docs/synthesis.md)"),
                                 Param("tau_scale", .optional(.number), default: .nothing,
                                       help: "the factor on U(2500, 3000) for τ, instead of `tau_scaling`'s"),
                                 Param("real", .optional(.oneOf([.tensor, .object("imageset")])), default: .nothing),
                                 Param("labels", .optional(.list), default: .nothing,
                                       help: "target classes, repeated to `images` (default: drawn uniformly)"),
                                 Param("prune_at", .list, default: .list([.number(50), .number(100), .number(200), .number(300)]),
                                       help: "SMI: iterations at which the least-attended patches are dropped"),
                                 Param("prune_ratio", .oneOf([.number, .list]), default: .number(0.3),
                                       help: "SMI: fraction of the remaining patches dropped at each step (one, or one per step)"),
                                 Param("snapshot_every", .integer(0...1_000_000), default: .int(0)),
                                 Param("on_snapshot", .optional(.function), default: .nothing)])
        }
        static func synthesize(_ a: Args) throws -> Value {
            let m = try synthModel(a)
            let o0 = try synthOptions(a, model: m)
            var o = o0
            o.snapshotEvery = try a.int("snapshot_every")
            let count = try a.int("images"), seed = UInt64(try a.int("seed"))
            a.interpreter.context.recordSeed("synthesize", seed)
            var parts = [CacheKey.hash(m.visionModel.params.all), m.visionModel.architecture.json(), o0.summary, "\(count)", "\(seed)"]
            if let r = o.realImages { parts.append(CacheKey.hash(r)) }
            let key = CacheKey(kind: "synthesize", parts)
            let cache = a.interpreter.context.cache
            if !a.interpreter.context.fresh, a.isNone("on_snapshot"), let cache, let d = cache.lookup(key: key) {
                do { return .object(ImageSetValue(try ImageSet.load(data: d, file: "cache \(key)"))) }
                catch { cache.reject(key: key, reason: "\(error)") }
            }
            let progress = a.interpreter.context.progress(total: [.psaq, .sardfq, .smi].contains(o.method) ? o.iterations : 1,
                                                          label: "synthesize \(o.method.rawValue)")
            defer { progress.finish() }
            var snapshotError: Error?
            let onSnap = a.isNone("on_snapshot") ? nil : try a.value("on_snapshot")
            let cb = SynthesisCallbacks(progress: { it, _, terms in progress.update(it, terms: terms) },
                                        snapshot: onSnap.map { f in { it, x in
                                            if snapshotError == nil {
                                                do { _ = try a.call(f, [.int(it), .tensor(x)]) } catch { snapshotError = error }
                                            }
                                        } },
                                        shouldStop: { Interrupt.requested || snapshotError != nil })
            let set: ImageSet
            do {
                set = try Synthesis.generate(model: m.visionModel, count: count, seed: seed, options: o, callbacks: cb)
            } catch SynthesisError.interrupted where snapshotError != nil {
                throw snapshotError!
            } catch SynthesisError.interrupted {
                Interrupt.clear()
                throw Interrupted()
            }
            try? cache?.store(key: key, data: set.data())
            return .object(ImageSetValue(set))
        }

        static var priorsSpec: BuiltinSpec {
            BuiltinSpec(summary: "The APA attention priors a SARDFQ run would use: one record {block, weight, prior} per used block.",
                        help: "`prior` has shape (images, heads, gh, gw) and sums to 1 per image and head. Kinds: \"gmm\" (default), \"laplace\", \"real\" (the model's attention on `real` images).",
                        example: "let p = priors(model(\"vit-t\", weights: \"random\"), images: 2, seed: 3)\nprint(len(p), p[0].prior.shape)\n# expect: 4 [2, 2, 8, 8]",
                        params: [modelParam, Param("images", .integer(1...4096), default: .int(4)),
                                 Param("seed", .integer(0...Int(Int32.max)), default: .int(0)),
                                 Param("kind", .choice(PriorKind.allCases.map(\.rawValue)), default: .string("gmm")),
                                 Param("k_apa", .integer(1...64), default: .int(5)),
                                 apaBlocksParam, Param("depth_weight", .bool, default: .bool(true)),
                                 Param("window_priors", .bool, default: .bool(true)),
                                 Param("real", .optional(.oneOf([.tensor, .object("imageset")])), default: .nothing)])
        }
        static func priors(_ a: Args) throws -> Value {
            let m = try synthModel(a)
            var o = SynthesisOptions()
            o.priorKind = PriorKind(rawValue: try a.string("kind"))!
            o.kAPA = try a.int("k_apa"); o.apaBlocks = APABlockRange(rawValue: try a.string("apa_blocks"))!
            o.depthWeighted = try a.bool("depth_weight"); o.windowPriors = try a.bool("window_priors")
            if !a.isNone("real") { o.realImages = try synthImages(a, "real") }
            let info = ModelInfo(m.visionModel)
            let r = try Synthesis.priors(model: m.visionModel, count: try a.int("images"), seed: UInt64(try a.int("seed")), options: o)
            return .list(try r.blocks.map { b in
                let g = info.blocks[b.block]
                let p = try b.prior.reshape([b.prior.shape[0], g.heads, g.gridH, g.gridW])
                return .record(RecordRef([("block", .int(b.block)), ("weight", .number(Double(b.weight))), ("prior", .tensor(p))]))
            })
        }

        static var attentionSpec: BuiltinSpec {
            BuiltinSpec(summary: "A block's attention maps on images: (B, gh, gw) for one head, (B, H, gh, gw) without `head`.",
                        help: "ViT/DeiT: the class token's attention to the patches, renormalised. Swin: the attention averaged over queries, on the stage's full grid with the shift undone. The maps APA aligns.",
                        example: "let a = attention(model(\"vit-t\", weights: \"random\"), randn([2, 1, 32, 32]), block: 5, head: 0)\nprint(a.shape)\n# expect: [2, 8, 8]",
                        params: [modelParam, Param("images", .oneOf([.tensor, .object("imageset")])),
                                 Param("block", .integer(0...10_000)), Param("head", .optional(.integer(0...10_000)), default: .nothing)])
        }
        static func attention(_ a: Args) throws -> Value {
            let m = try synthModel(a)
            let info = ModelInfo(m.visionModel)
            let l = try a.int("block")
            guard l < info.blocks.count else { throw a.bad("block", "the model has blocks 0…\(info.blocks.count - 1), got \(l)") }
            let x = try synthImages(a, "images")
            let g = info.blocks[l]
            let maps = try noGrad { () -> Tensor in
                let out = try m.visionModel.forward(x, capture: [.attention], hooks: nil)
                return try info.attentionMap(block: l, probs: out.attention[l], batch: x.shape[0])
            }
            let b = x.shape[0]
            if a.isNone("head") { return .tensor(try maps.reshape([b, g.heads, g.gridH, g.gridW])) }
            let h = try a.int("head")
            guard h < g.heads else { throw a.bad("head", "block \(l) has heads 0…\(g.heads - 1), got \(h)") }
            return .tensor(try maps.slice(axis: 1, start: h, end: h + 1).reshape([b, g.gridH, g.gridW]))
        }

        static var psaqEntropySpec: BuiltinSpec {
            BuiltinSpec(summary: "PSAQ-ViT's loss −Σ_blocks entropy of the patch-similarity KDE, from attention outputs (B, H, N, d).",
                        help: "Each block's output is averaged over heads; the class token is dropped when `class_token`; cosine similarities of all patch pairs per image go through a Gaussian KDE (bandwidth 0.01, 10 points) whose entropy is integrated by the trapezoid rule. For Swin pass (B·nW, H, w², d) and `batch: B`.",
                        example: "let a = randn([2, 3, 5, 4], seed: 1)\nprint(psaq_entropy(a).shape)\n# expect: []",
                        params: [Param("outputs", .oneOf([.tensor, .list])), Param("batch", .optional(.integer(1...1_000_000)), default: .nothing),
                                 Param("class_token", .bool, default: .bool(true))])
        }
        static func psaqEntropy(_ a: Args) throws -> Value {
            let outs = try synthTensorList(a, "outputs")
            guard let first = outs.first, first.rank == 4 else { throw a.bad("outputs", "attention outputs (B, H, N, d) expected") }
            let b = a.isNone("batch") ? first.shape[0] : try a.int("batch")
            return .tensor(try Losses.psaqEntropy(outs, batch: b, dropClassToken: try a.bool("class_token")))
        }

        static var apaLossSpec: BuiltinSpec {
            BuiltinSpec(summary: "Σ_i w_i · mean_b Σ_h mean_t (map − prior)²: SARDFQ's attention-prior alignment.",
                        help: "`maps` and `priors` are tensors (B, H, T) (or lists of them, one per block); `weights` default to 1.",
                        example: "let m = tensor([[[0.5, 0.5]]])\nlet p = tensor([[[1, 0]]])\nprint(round(item(apa_loss(m, p)), digits: 4))\n# expect: 0.25",
                        params: [Param("maps", .oneOf([.tensor, .list])), Param("priors", .oneOf([.tensor, .list])),
                                 Param("weights", .optional(.list), default: .nothing)])
        }
        static func apaLoss(_ a: Args) throws -> Value {
            let maps = try synthTensorList(a, "maps").map { $0.rank == 4 ? try $0.reshape([$0.shape[0], $0.shape[1], -1]) : $0 }
            let priors = try synthTensorList(a, "priors").map { $0.rank == 4 ? try $0.reshape([$0.shape[0], $0.shape[1], -1]) : $0 }
            let w: [Float] = a.isNone("weights") ? [Float](repeating: 1, count: maps.count)
                : try a.list("weights").map { v in
                    guard case .number(let n) = v else { throw a.bad("weights", "numbers expected, found \(v.brief)") }
                    return Float(n)
                }
            return .tensor(try Losses.apaLoss(maps: maps, priors: priors, weights: w))
        }

        static var tvLossSpec: BuiltinSpec {
            BuiltinSpec(summary: "Total variation of images (B, C, H, W): the Frobenius norms of 4 neighbour differences, summed.",
                        example: "let x = tensor([[[[0, 1], [0, 1]]]])\nprint(round(item(tv_loss(x)), digits: 4))\n# expect: 3.4142",
                        params: [Param("images", .oneOf([.tensor, .object("imageset")]))])
        }
        static func tvLoss(_ a: Args) throws -> Value {
            .tensor(try Losses.tvLoss(try synthImages(a, "images")))
        }

        static var showSpec: BuiltinSpec {
            BuiltinSpec(summary: "Writes images (an image set or a tensor (B, C, H, W)) as a denormalized PNG grid; returns the path.",
                        help: "Tensors use `mean`/`std` (default: Fashion-MNIST's for 1 channel, ImageNet's for 3). Relative paths go under the output folder; a provenance sidecar is written next to the PNG. In the REPL the grid is also drawn in the terminal (docs/repl.md, \"Pictures\").",
                        example: "let p = show(randn([4, 1, 8, 8]), path: \"noise.png\")\nprint(p)\n# expect: noise.png",
                        params: [Param("images", .oneOf([.tensor, .object("imageset")])), Param("path", .string, default: .string("images.png")),
                                 Param("columns", .optional(.integer(1...1000)), default: .nothing), Param("scale", .integer(1...32), default: .int(2)),
                                 Param("mean", .optional(.list), default: .nothing), Param("std", .optional(.list), default: .nothing)])
        }
        static func show(_ a: Args) throws -> Value {
            let x = try synthImages(a, "images")
            var mean: [Float], std: [Float]
            if case .object(let o as ImageSetValue) = try a.value("images") { (mean, std) = (o.set.mean, o.set.std) } else {
                var o = SynthesisOptions()
                if !a.isNone("mean") { o.mean = try a.list("mean").map { v in guard case .number(let n) = v else { throw a.bad("mean", "numbers expected") }; return Float(n) } }
                if !a.isNone("std") { o.std = try a.list("std").map { v in guard case .number(let n) = v else { throw a.bad("std", "numbers expected") }; return Float(n) } }
                do { (mean, std) = try o.normalization(channels: x.shape[1]) } catch { throw a.bad("mean", "\(error)") }
            }
            let path = try a.string("path")
            let url = a.interpreter.context.outputURL(path)
            try Output.prepareDirectory(for: url)
            try Output.writeProvenance(for: url, context: a.interpreter.context)  // first: a figure never lacks its sidecar
            let columns = a.isNone("columns") ? nil : try a.int("columns")
            try ImageGrid.write(x, path: url.path, mean: mean, std: std, columns: columns, scale: try a.int("scale"))
            if let display = a.interpreter.context.display {
                let grid = try ImageGrid.render(x, mean: mean, std: std, columns: columns)
                display(try TerminalPicture(width: grid.width, height: grid.height, channels: grid.channels, pixels: grid.pixels))
            }
            return .string(path)
        }

        static var loadImagesSpec: BuiltinSpec {
            BuiltinSpec(summary: "Loads an image set saved with `save(imgs, \"x.safetensors\")`.",
                        example: "let imgs = synthesize(model(\"vit-t\", weights: \"random\"), method: \"noise\", images: 2)\nsave(imgs, \"noise.safetensors\")\nprint(load_images(\"noise.safetensors\").count)\n# expect: 2",
                        params: [Param("path", .string)])
        }
        static func loadImages(_ a: Args) throws -> Value {
            let path = try a.string("path")
            return .object(ImageSetValue(try ImageSet.load(path: a.interpreter.context.outputURL(path).path)))
        }
    }

    /// The full-precision model in argument `name` (synthesis inverts the float model; a quantized
    /// one is refused by name).
    static func synthModel(_ a: Args, _ name: String = "model") throws -> ModelObject {
        guard case .object(let o) = try a.value(name), let m = o as? ModelObject else {
            throw a.bad(name, "full-precision model expected, got \((a.values[name] ?? .nothing).brief)")
        }
        return m
    }

    /// Images from a tensor (B, C, H, W) or an image set.
    static func synthImages(_ a: Args, _ name: String) throws -> Tensor {
        if case .object(let o as ImageSetValue) = try a.value(name) { return o.set.images }
        let t = try a.tensor(name)
        guard t.rank == 4 else { throw a.bad(name, "images (B, C, H, W) expected, got shape \(shapeString(t.shape))") }
        return t
    }

    static func synthTensorList(_ a: Args, _ name: String) throws -> [Tensor] {
        switch try a.value(name) {
        case .tensor(let t): return [t]
        case .list(let l):
            return try l.items.map { v in
                guard case .tensor(let t) = v else { throw a.bad(name, "list of tensors expected, found \(v.brief)") }
                return t
            }
        case let v: throw a.bad(name, "tensor or list of tensors expected, got \(v.brief)")
        }
    }

    static func synthOptions(_ a: Args, model: ModelObject) throws -> SynthesisOptions {
        var o = SynthesisOptions(method: SynthesisMethod(rawValue: try a.string("method"))!)
        // SMI's own length (4000) unless given; the others' 1000.
        o.iterations = a.isNone("iters") ? (o.method == .smi ? 4000 : 1000) : try a.int("iters")
        if o.method == .smi {
            let at = try a.ints("prune_at")
            guard at.allSatisfy({ $0 >= 0 }), zip(at, at.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw a.bad("prune_at", "increasing iterations ≥ 0 expected, got \(at)")
            }
            let ratios: [Float]
            if case .number = try a.value("prune_ratio") { ratios = [try a.float("prune_ratio")] }
            else { ratios = try Builtins.numbers(try a.value("prune_ratio"), a, "prune_ratio").map(Float.init) }
            guard !ratios.isEmpty, ratios.allSatisfy({ $0 > 0 && $0 < 1 }) else {
                throw a.bad("prune_ratio", "fractions strictly between 0 and 1 expected, got \(ratios)")
            }
            o.smi.pruneAt = at; o.smi.pruneRatio = ratios
        }
        o.apa = try a.bool("apa"); o.msr = try a.bool("msr"); o.softLabels = try a.bool("sl")
        if !a.isNone("alpha1") {
            let v = try a.float("alpha1")
            guard v.isFinite, v >= 0 else { throw a.bad("alpha1", "finite number ≥ 0 expected, got \(v)") }
            o.alpha1 = v
        }
        o.kAPA = try a.int("k_apa"); o.kMSR = try a.int("k_msr")
        o.priorKind = PriorKind(rawValue: try a.string("prior"))!
        o.apaBlocks = APABlockRange(rawValue: try a.string("apa_blocks"))!; o.depthWeighted = try a.bool("depth_weight")
        o.apaView = APAView(rawValue: try a.string("apa_view"))!; o.windowPriors = try a.bool("window_priors")
        o.softLabelScale = SoftLabelScale(rawValue: try a.string("sl_scale"))!
        o.regionWeighting = RegionWeighting(rawValue: try a.string("regions"))!
        o.msrEvery = try a.int("msr_every")
        o.flip = try a.bool("flip")
        if !a.isNone("jitter") {
            let j = try a.ints("jitter")
            guard !j.isEmpty, j.allSatisfy({ $0 >= 0 }) else { throw a.bad("jitter", "non-negative pixel offsets per round expected, got \(j)") }
            o.jitter = j
        }
        if !a.isNone("lr") {
            let v = try a.float("lr")
            guard v.isFinite, v > 0 else { throw a.bad("lr", "positive finite number expected, got \(v)") }
            o.lr = v
        }
        o.tauScaling = TauScaling(rawValue: try a.string("tau_scaling"))!
        if !a.isNone("tau_scale") {
            let v = try a.float("tau_scale")
            guard v.isFinite, v > 0 else { throw a.bad("tau_scale", "positive finite number expected, got \(v)") }
            o.tauScale = v
        }
        if !a.isNone("real") { o.realImages = try synthImages(a, "real") }
        if !a.isNone("labels") {
            let labels = try a.ints("labels"), classes = model.visionModel.architecture.numClasses
            guard !labels.isEmpty else { throw a.bad("labels", "at least one class expected") }
            if let bad = labels.first(where: { !(0..<classes).contains($0) }) {
                throw a.bad("labels", "classes 0…\(classes - 1) expected, got \(bad)")
            }
            o.labels = labels
        }
        if let p = model.preprocessing { o.mean = p.mean; o.std = p.std }
        return o
    }
}
