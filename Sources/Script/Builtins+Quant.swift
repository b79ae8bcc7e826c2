import Foundation
import Tensor
import Models
import Quantization

extension Builtins {
    static func installQuant() { register(area: "quant", QuantArea.builtins) }

    /// The quant area's builtins.
    enum QuantArea {
        /// The table: one line per builtin naming its spec and function (below, in this order).
        static var builtins: [Builtin] { [
            Builtin("quantize", quantizeSpec, quantize),
            Builtin("fake_quant", fakeQuantSpec, fakeQuant),
            Builtin("quant_report", quantReportSpec, quantReport),
        ] }

        static var quantizeSpec: BuiltinSpec {
            BuiltinSpec(summary: "A fake-quantized copy of a model, calibrated on images (RepQ-ViT backend by default).",
                        help: """
                        Weights of every linear layer and of the patch embedding are quantized per output channel to `w` bits; linear \
                        inputs, Q, K and V to `a` bits per tensor; attention probabilities with the log√2 quantizer; the patch-embedding \
                        input at 8 bits. LayerNorm, Softmax and GELU stay in float. With the "repq" backend the inputs that follow a \
                        LayerNorm are calibrated per channel and folded into the LayerNorm and the next linear (scale \
                        reparameterization). "minmax" is PSAQ-ViT's backend (symmetric min-max weights, min-max activations, softmax \
                        in float). `reconstruct: true` then fine-tunes each block's linear weights to match the float block's output \
                        (Adam, lr 4e-5, cosine, `iters` steps per block). `calib` is an image tensor (B, C, H, W), an image set or \
                        dataset, or "noise" for `images` Gaussian-noise images drawn with `seed`. The float model is not changed. \
                        The model runs in integer products by default (`execute: "int8"`; top-1 agrees with fake quantization within \
                        0.1 point); `execute: "fake"` runs it in simulated quantization, as the paper's tables do.
                        """,
                        example: "let net = model(\"vit-t\", weights: \"random\")\nlet q = quantize(net, w: 8, a: 8, calib: \"noise\", images: 4)\nprint(q.w, q.a, q.backend, q.execute)\n# expect: 8 8 repq int8",
                        params: [Param("model", .any, help: "a model (or the float model of a quantized one)"),
                                 Param("w", .integer(2...8), default: .int(4), help: "weight bits"),
                                 Param("a", .integer(2...8), default: .int(4), help: "activation bits"),
                                 Param("calib", .any, help: "images (B, C, H, W), an image set or dataset, or \"noise\""),
                                 Param("backend", .choice(["repq", "minmax"]), default: .string("repq")),
                                 Param("reconstruct", .bool, default: .bool(false), help: "block reconstruction after calibration"),
                                 Param("iters", .integer(0...100_000), default: .int(100), help: "reconstruction steps per block"),
                                 Param("attention", .choice(["log_sqrt2", "sulq"]), default: .string("log_sqrt2"),
                                       help: "quantizer of the attention probabilities (repq backend)"),
                                 Param("images", .integer(1...100_000), default: .int(32), help: "number of noise images when calib is \"noise\""),
                                 Param("seed", .integer(0...Int(Int32.max)), default: .int(0), help: "seed of the noise images"),
                                 Param("fold_merging", .bool, default: .bool(true),
                                       help: "Swin: fold the patch-merging LayerNorm into the reduction (RepQ-ViT) or keep that input per tensor"),
                                 Param("input_range", .choice(["calibrated", "image"]), default: .string("calibrated"),
                                       help: "patch-embedding input range: searched on the calibration images, or the normalized image of [0, 1]"),
                                 Param("swap_calib", .optional(.any), default: .nothing,
                                       help: "other calibration images for the activation sites named by `swap_sites`"),
                                 Param("swap_sites", .optional(.list), default: .nothing,
                                       help: "shell patterns of site keys (e.g. \"layers.2.*.qkv.input\") fitted on `swap_calib`"),
                                 Param("execute", .choice(["int8", "fake"]), default: .string("int8"),
                                       help: "how the model runs: u8·s8 integer products for the linear layers, patch embedding and attention products that allow them (the rest, and anything that wants a gradient, stays fake; docs/quantization.md), or fake quantization in float throughout, the reference")])
        }
        static func quantize(_ a: Args) throws -> Value {
            let (model, obj) = try visionModel(a, "model")
            let seed = UInt64(try a.int("seed"))
            let images = try calibrationImages(a, model: model, count: try a.int("images"), seed: seed)
            var c = QuantConfig(weightBits: try a.int("w"), activationBits: try a.int("a"),
                                backend: Backend(rawValue: try a.string("backend")) ?? .repq)
            c.attention = try a.string("attention") == "sulq" ? .shiftUniformLog2 : .sqrt2
            if try a.bool("reconstruct") { c.reconstruction = ReconstructionConfig(iterations: try a.int("iters")) }
            c.foldPatchMerging = try a.bool("fold_merging")
            if try a.string("input_range") == "image" {
                // Pixel values [0, 1] through the model's normalization (or the default for its channels).
                let norm = (obj as? ModelObject)?.preprocessing.map { ($0.mean, $0.std) }
                    ?? Preprocessing.defaultNormalization(channels: model.architecture.inputShape[0])
                let lo = zip(norm.0, norm.1).map { (0 - $0) / $1 }.min() ?? 0, hi = zip(norm.0, norm.1).map { (1 - $0) / $1 }.max() ?? 1
                c.inputRange = lo...hi
            }
            var swap: (sites: (String) -> Bool, images: Tensor)? = nil
            if a.isNone("swap_calib") != a.isNone("swap_sites") {
                throw a.bad(a.isNone("swap_calib") ? "swap_calib" : "swap_sites", "swap_calib and swap_sites go together")
            }
            if !a.isNone("swap_calib") {
                let patterns = try a.strings("swap_sites")
                guard !patterns.isEmpty else { throw a.bad("swap_sites", "at least one pattern expected") }
                swap = ({ site in patterns.contains { fnmatch($0, site, 0) == 0 } },
                        try calibrationImages(a, model: model, count: try a.int("images"), seed: seed, "swap_calib"))
            }
            do {
                let q = try Quantization.quantize(model, config: c, calib: images, swap: swap)
                q.hooks.execution = Execution(rawValue: try a.string("execute")) ?? .int8
                var source = obj.typeName
                if case .string(let n)? = try? obj.member("name") { source = n }
                return .object(QuantizedModelObject(q, source: source))
            } catch let QuantError.images(argument, message) {
                throw a.bad(argument, message)
            } catch let e as QuantError {
                throw a.bad("model", e.description)
            }
        }

        static var fakeQuantSpec: BuiltinSpec {
            BuiltinSpec(summary: "Quantizes and dequantizes a tensor with a quantizer fitted on that tensor (for teaching).",
                        help: """
                        Schemes: "uniform" (asymmetric, clipping range searched over the percentiles 0.999/0.9999/0.99999 by MSE), \
                        "minmax" (asymmetric, full range), "symmetric" (Δ = 2·max|x|/(2^b−1)), "log_sqrt2" (RepQ-ViT's log√2 for \
                        values in [0, 1], e.g. attention probabilities) and "sulq" (shift-uniform-log2). `per: "row"` fits one range \
                        per first-axis slice (weights), `per: "channel"` one per last-axis entry (activations). The gradient passes \
                        straight through inside the range, so `backward` works.
                        """,
                        example: "print(fake_quant(tensor([-1, 0, 3]), bits: 2, scheme: \"minmax\"))\n# expect: tensor(3) f32 [-1.3333, 0, 2.6667]",
                        params: [Param("x", .tensor), Param("bits", .integer(2...8), default: .int(4)),
                                 Param("scheme", .choice(["uniform", "minmax", "symmetric", "log_sqrt2", "sulq"]), default: .string("uniform")),
                                 Param("per", .choice(["tensor", "row", "channel"]), default: .string("tensor"))])
        }
        static func fakeQuant(_ a: Args) throws -> Value {
            let x = try a.tensor("x"), bits = try a.int("bits"), scheme = try a.string("scheme")
            let per: Granularity = try ["tensor": .tensor, "row": .rows, "channel": .lastAxis][a.string("per")]!
            let q: Quantizer
            switch scheme {
            case "log_sqrt2", "sulq":
                guard per == .tensor else { throw a.bad("per", "log quantizers are per tensor") }
                q = try LogQuantizer(bits: bits, variant: scheme == "sulq" ? .shiftUniformLog2 : .sqrt2)
            default:
                let search: RangeSearch = scheme == "minmax" ? .minMax : (scheme == "symmetric" ? .symmetricMinMax : .repq)
                q = try UniformQuantizer(bits: bits, granularity: per, search: search)
            }
            do {
                try q.calibrate(x.detach(), site: "fake_quant")
                return .tensor(try q.fakeQuant(x))
            } catch let e as QuantError { throw a.bad("x", e.description) }
        }

        static var quantReportSpec: BuiltinSpec {
            BuiltinSpec(summary: "Every quantizer of a quantized model: bits, scale, zero point and error on the calibration images.",
                        help: "One row per site in forward order (`blocks.0.attn.qkv.weight`, `blocks.0.attn.attn`, …). `mse` is the mean squared error of x̂ against x and `rel_error` is ‖x̂ − x‖/‖x‖, both measured in one quantized forward over the calibration images. Per-channel sites show the mean scale.",
                        example: "let q = quantize(model(\"vit-t\", weights: \"random\"), w: 4, a: 4, calib: \"noise\", images: 4)\nlet r = quant_report(q)\nprint(r.rows[0][0], r.rows[0][2])\n# expect: patch_embed.proj.input 8",
                        params: [Param("q", .object("quantized model"))])
        }
        static func quantReport(_ a: Args) throws -> Value {
            let q = try a.object("q", as: QuantizedModelObject.self).quantized
            let t = Table(columns: ["site", "scheme", "bits", "per", "scale", "zero", "mse", "rel_error"])
            for r in try q.report() {
                let per = r.granularity == .tensor ? "tensor" : "\(r.granularity.rawValue) ×\(r.channels)"
                try t.add([.string(r.site), .string(r.scheme), .int(r.bits), .string(r.scheme == "float" ? "–" : per),
                           .number(Double(r.scale)), r.zeroPoint.map { .number(Double($0)) } ?? .nothing,
                           .number(r.mse), .number(r.relativeError)])
            }
            return .object(t)
        }
    }

    /// The model in argument `name` (a model or a quantized model).
    static func visionModel(_ a: Args, _ name: String) throws -> (VisionModel, ScriptObject) {
        guard case .object(let o) = try a.value(name), let m = o as? ScriptVisionModel else {
            throw a.bad(name, "model expected, got \((a.values[name] ?? .nothing).brief)")
        }
        return (m.visionModel, m)
    }

    /// Calibration images from a tensor (B, C, H, W), an object with `.images` (image sets,
    /// datasets) or "noise" (N(0, 1) images shaped for the model, `count` of them, seeded).
    static func calibrationImages(_ a: Args, model: VisionModel, count: Int, seed: UInt64, _ name: String = "calib") throws -> Tensor {
        switch try a.value(name) {
        case .tensor(let t):
            guard t.rank == 4 else { throw a.bad(name, "images (B, C, H, W) expected, got a tensor of shape \(shapeString(t.shape))") }
            return t
        case .string("noise"):
            a.interpreter.context.recordSeed("quantize.noise", seed)
            return try CalibrationSource.gaussian(count: count, for: model, seed: seed)
        case .object(let o):
            if case .tensor(let t)? = try o.member("images") { return t }
            throw a.bad(name, "a \(o.typeName) has no images")
        case let v:
            throw a.bad(name, "images (tensor, image set or dataset) or \"noise\" expected, got \(v.brief)")
        }
    }

}
