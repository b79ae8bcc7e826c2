import Foundation
import Tensor

extension Builtins {
    static func installTensor() { register(area: "tensor", TensorArea.builtins) }

    /// The tensor area's builtins.
    enum TensorArea {
        /// The table: one line per builtin naming its spec and function (below, in this order).
        static var builtins: [Builtin] { [
            Builtin("tensor", tensorSpec, tensor),
            Builtin("zeros", zerosSpec, zeros),
            Builtin("ones", onesSpec, ones),
            Builtin("full", fullSpec, full),
            Builtin("arange", arangeSpec, arange),
            Builtin("randn", randnSpec, randn),
            Builtin("rand", randSpec, rand),
            Builtin("exp", expSpec, exp),
            Builtin("log", logSpec, log),
            Builtin("tanh", tanhSpec, tanh),
            Builtin("sqrt", sqrtSpec, sqrt),
            Builtin("abs", absSpec, abs),
            Builtin("relu", reluSpec, relu),
            Builtin("sigmoid", sigmoidSpec, sigmoid),
            Builtin("gelu", geluSpec, gelu),
            Builtin("pow", powSpec, pow),
            Builtin("clamp", clampSpec, clamp),
            Builtin("sum", sumSpec, sum),
            Builtin("mean", meanSpec, mean),
            Builtin("max", maxSpec, max),
            Builtin("argmax", argmaxSpec, argmax),
            Builtin("reshape", reshapeSpec, reshape),
            Builtin("flatten", flattenSpec, flatten),
            Builtin("transpose", transposeSpec, transpose),
            Builtin("permute", permuteSpec, permute),
            Builtin("matmul", matmulSpec, matmul),
            Builtin("softmax", softmaxSpec, softmax),
            Builtin("log_softmax", logSoftmaxSpec, logSoftmax),
            Builtin("concat", concatSpec, concat),
            Builtin("stack", stackSpec, stack),
            Builtin("item", itemSpec, item),
            Builtin("tolist", tolistSpec, tolist),
            Builtin("backward", backwardSpec, backward),
            Builtin("zero_grad", zeroGradSpec, zeroGrad),
            Builtin("detach", detachSpec, detach),
            Builtin("no_grad", noGradSpec, noGrad),
        ] }

        static var axisParam: Param {
            Param("axis", .optional(.oneOf([.integer(), .list])), default: .nothing,
                  help: "axis or list of axes (negative counts from the end); none reduces everything")
        }

        static var tensorSpec: BuiltinSpec {
            BuiltinSpec(summary: "A tensor from a number or (nested) list of numbers.",
                        help: "Set `requires_grad: true` to make it a leaf whose gradient `backward` fills in (read it with `.grad`).",
                        example: "let x = tensor([[1, 2], [3, 4]])\nprint(x.shape)\n# expect: [2, 2]",
                        params: [Param("values", .tensor), Param("requires_grad", .bool, default: .bool(false), help: "make a leaf whose `.grad` backward fills")])
        }
        static func tensor(_ a: Args) throws -> Value {
            let t = try a.tensor("values").copy()
            t.requiresGrad = try a.bool("requires_grad")
            return .tensor(t)
        }

        static var zerosSpec: BuiltinSpec {
            BuiltinSpec(summary: "A tensor of zeros with the given shape.",
                        example: "print(zeros([2, 3]).shape)\n# expect: [2, 3]", params: [Param("shape", .oneOf([.integer(0...1_000_000_000), .list]))])
        }
        static func zeros(_ a: Args) throws -> Value {
            .tensor(Tensor.zeros(try shapeArgument(a)))
        }

        static var onesSpec: BuiltinSpec {
            BuiltinSpec(summary: "A tensor of ones with the given shape.",
                        example: "print(sum(ones([2, 3])))\n# expect: tensor() f32 [6]", params: [Param("shape", .oneOf([.integer(0...1_000_000_000), .list]))])
        }
        static func ones(_ a: Args) throws -> Value {
            .tensor(Tensor.ones(try shapeArgument(a)))
        }

        static var fullSpec: BuiltinSpec {
            BuiltinSpec(summary: "A tensor filled with one value.",
                        example: "print(full([2], 7))\n# expect: tensor(2) f32 [7, 7]",
                        params: [Param("shape", .oneOf([.integer(0...1_000_000_000), .list])), Param("value", .number)])
        }
        static func full(_ a: Args) throws -> Value {
            .tensor(Tensor.full(try shapeArgument(a), try a.float("value")))
        }

        static var arangeSpec: BuiltinSpec {
            BuiltinSpec(summary: "The numbers start, start+step, … below end as a 1-D tensor (`arange(n)` is 0…n-1).",
                        example: "print(arange(4))\n# expect: tensor(4) f32 [0, 1, 2, 3]",
                        params: [Param("start", .number), Param("end", .optional(.number), default: .nothing), Param("step", .number, default: .int(1))])
        }
        static func arange(_ a: Args) throws -> Value {
            var s = try a.float("start"), e: Float = 0
            if a.isNone("end") { e = s; s = 0 } else { e = try a.float("end") }
            let st = try a.float("step")
            guard st != 0, st.isFinite else { throw a.bad("step", "must be a finite number other than 0") }
            guard s.isFinite, e.isFinite, (e - s) / st <= 100_000_000 else { throw a.bad("end", "too many elements (or not finite)") }
            return .tensor(try Tensor.arange(s, e, step: st))
        }

        static var randnSpec: BuiltinSpec {
            BuiltinSpec(summary: "Normal random values (seeded, reproducible).",
                        help: "Same seed, same values on every machine. The seed is recorded in provenance.",
                        example: "let x = randn([2, 3], seed: 1)\nprint(x.shape)\n# expect: [2, 3]",
                        params: [Param("shape", .oneOf([.integer(0...1_000_000_000), .list])), Param("seed", .integer(0...Int(Int32.max)), default: .int(0), help: "same seed, same values"),
                                 Param("mean", .number, default: .int(0)), Param("std", .number, default: .int(1))])
        }
        static func randn(_ a: Args) throws -> Value {
            let seed = UInt64(try a.int("seed"))
            a.interpreter.context.recordSeed("randn", seed)
            var rng = RNG(seed: seed)
            return .tensor(Tensor.normal(try shapeArgument(a), mean: try a.float("mean"), std: try a.float("std"), rng: &rng))
        }

        static var randSpec: BuiltinSpec {
            BuiltinSpec(summary: "Uniform random values in [low, high) (seeded, reproducible).",
                        example: "let x = rand([3], seed: 2)\nprint(max(x).item() < 1)\n# expect: true",
                        params: [Param("shape", .oneOf([.integer(0...1_000_000_000), .list])), Param("seed", .integer(0...Int(Int32.max)), default: .int(0), help: "same seed, same values"),
                                 Param("low", .number, default: .int(0)), Param("high", .number, default: .int(1))])
        }
        static func rand(_ a: Args) throws -> Value {
            let seed = UInt64(try a.int("seed"))
            a.interpreter.context.recordSeed("rand", seed)
            var rng = RNG(seed: seed)
            return .tensor(Tensor.uniform(try shapeArgument(a), low: try a.float("low"), high: try a.float("high"), rng: &rng))
        }

        static var expSpec: BuiltinSpec { elementwiseSpec("eᵡ, elementwise.", example: "print(round(exp(1), digits: 3))\n# expect: 2.718") }
        static func exp(_ a: Args) throws -> Value {
            try elementwise(a, number: Foundation.exp) { $0.exp() }
        }

        static var logSpec: BuiltinSpec { elementwiseSpec("Natural logarithm, elementwise.", example: "print(log(tensor([1])))\n# expect: tensor(1) f32 [0]") }
        static func log(_ a: Args) throws -> Value {
            try elementwise(a, number: Foundation.log) { $0.log() }
        }

        static var tanhSpec: BuiltinSpec { elementwiseSpec("Hyperbolic tangent, elementwise.", example: "print(tanh(0))\n# expect: 0") }
        static func tanh(_ a: Args) throws -> Value {
            try elementwise(a, number: Foundation.tanh) { $0.tanh() }
        }

        static var sqrtSpec: BuiltinSpec { elementwiseSpec("Square root, elementwise.", example: "print(sqrt(16), sqrt(tensor([4, 9])))\n# expect: 4 tensor(2) f32 [2, 3]") }
        static func sqrt(_ a: Args) throws -> Value {
            try elementwise(a, number: Foundation.sqrt) { $0.sqrt() }
        }

        static var absSpec: BuiltinSpec { elementwiseSpec("Absolute value, elementwise.", example: "print(abs(-2))\n# expect: 2") }
        static func abs(_ a: Args) throws -> Value {
            try elementwise(a, number: Swift.abs) { $0.abs() }
        }

        static var reluSpec: BuiltinSpec { elementwiseSpec("max(x, 0), elementwise.", example: "print(relu(tensor([-1, 2])))\n# expect: tensor(2) f32 [0, 2]") }
        static func relu(_ a: Args) throws -> Value {
            try elementwise(a, number: { Swift.max($0, 0) }) { $0.relu() }
        }

        static var sigmoidSpec: BuiltinSpec { elementwiseSpec("1 / (1 + e⁻ᵡ), elementwise.", example: "print(sigmoid(0))\n# expect: 0.5") }
        static func sigmoid(_ a: Args) throws -> Value {
            try elementwise(a, number: { 1 / (1 + Foundation.exp(-$0)) }) { $0.sigmoid() }
        }

        static var geluSpec: BuiltinSpec { elementwiseSpec("GELU activation (tanh approximation), elementwise.", example: "print(gelu(tensor([0])))\n# expect: tensor(1) f32 [0]") }
        static func gelu(_ a: Args) throws -> Value {
            try elementwise(a, number: { x in 0.5 * x * (1 + Foundation.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) }) { $0.gelu() }
        }

        static var powSpec: BuiltinSpec {
            BuiltinSpec(summary: "xᵖ, elementwise.", example: "print(pow(tensor([2, 3]), 2))\n# expect: tensor(2) f32 [4, 9]",
                        params: [Param("x", .oneOf([.number, .tensor])), Param("p", .number)])
        }
        static func pow(_ a: Args) throws -> Value {
            if case .number(let n) = try a.value("x") { return .number(Foundation.pow(n, try a.number("p"))) }
            return .tensor(try a.tensor("x").pow(try a.float("p")))
        }

        static var clampSpec: BuiltinSpec {
            BuiltinSpec(summary: "Limits values to [low, high].", example: "print(clamp(tensor([-2, 0.5, 3]), -1, 1))\n# expect: tensor(3) f32 [-1, 0.5, 1]",
                        params: [Param("x", .tensor), Param("low", .number), Param("high", .number)])
        }
        static func clamp(_ a: Args) throws -> Value {
            .tensor(try a.tensor("x").clamp(try a.float("low"), try a.float("high")))
        }

        static var sumSpec: BuiltinSpec {
            BuiltinSpec(summary: "Sum of a tensor (over `axis`, or everything) or of a list of numbers.",
                        example: "let x = tensor([[1, 2], [3, 4]])\nprint(sum(x, axis: 0), sum([1, 2]))\n# expect: tensor(2) f32 [4, 6] 3",
                        params: [Param("x", .oneOf([.list, .tensor])), axisParam, Param("keepdims", .bool, default: .bool(false), help: "keep reduced axes with size 1")])
        }
        static func sum(_ a: Args) throws -> Value {
            if case .list(let l) = try a.value("x"), l.items.allSatisfy({ if case .number = $0 { return true }; return false }) {
                return .number(l.items.reduce(0) { if case .number(let n) = $1 { return $0 + n }; return $0 })
            }
            return .tensor(try a.tensor("x").sum(axes: try axesArgument(a), keepDims: try a.bool("keepdims")))
        }

        static var meanSpec: BuiltinSpec {
            BuiltinSpec(summary: "Mean of a tensor (over `axis`, or everything) or of a list of numbers.",
                        example: "print(mean([1, 2, 3, 4]), mean(tensor([1, 3])))\n# expect: 2.5 tensor() f32 [2]",
                        params: [Param("x", .oneOf([.list, .tensor])), axisParam, Param("keepdims", .bool, default: .bool(false), help: "keep reduced axes with size 1")])
        }
        static func mean(_ a: Args) throws -> Value {
            if case .list(let l) = try a.value("x"), l.items.isEmpty { throw a.bad("x", "the mean of an empty list is undefined") }
            if case .list(let l) = try a.value("x"), l.items.allSatisfy({ if case .number = $0 { return true }; return false }) {
                return .number(l.items.reduce(0) { if case .number(let n) = $1 { return $0 + n }; return $0 } / Double(l.items.count))
            }
            return .tensor(try a.tensor("x").mean(axes: try axesArgument(a), keepDims: try a.bool("keepdims")))
        }

        static var maxSpec: BuiltinSpec {
            BuiltinSpec(summary: "Largest value: of a tensor (along `axis`, or overall), of a list, or of several numbers.",
                        example: "print(max([3, 9, 2]), max(2, 5), max(tensor([[1, 5], [7, 2]]), axis: 1))\n# expect: 9 5 tensor(2) f32 [5, 7]",
                        params: [Param("values", variadic: true), Param("axis", .optional(.integer()), default: .nothing), Param("keepdims", .bool, default: .bool(false), help: "keep reduced axes with size 1")])
        }
        static func max(_ a: Args) throws -> Value {
            if a.rest.count == 1, case .tensor(let t) = a.rest[0] {
                if a.isNone("axis") { return .tensor(try t.reshape([t.count]).max(axis: 0)) }
                return .tensor(try t.max(axis: try a.axis("axis", rank: t.rank), keepDims: try a.bool("keepdims")))
            }
            return try numberExtremum(a, smallest: false)
        }

        static var argmaxSpec: BuiltinSpec {
            BuiltinSpec(summary: "Index of the largest value along `axis` (a number for 1-D input, else a list).",
                        example: "print(argmax(tensor([1, 5, 2])), argmax(tensor([[1, 2], [4, 3]])))\n# expect: 1 [1, 0]",
                        params: [Param("x", .tensor), Param("axis", .integer(), default: .int(-1))])
        }
        static func argmax(_ a: Args) throws -> Value {
            let t = try a.tensor("x")
            let idx = try t.argmax(axis: try a.axis("axis", rank: t.rank))
            return t.rank == 1 ? .int(idx[0]) : .list(idx.map { .int($0) })
        }

        static var reshapeSpec: BuiltinSpec {
            BuiltinSpec(summary: "The same values with a new shape (one dimension may be -1).",
                        example: "print(reshape(arange(6), [2, -1]).shape)\n# expect: [2, 3]",
                        params: [Param("x", .tensor), Param("shape", .list)])
        }
        static func reshape(_ a: Args) throws -> Value {
            .tensor(try a.tensor("x").reshape(try a.ints("shape")))
        }

        static var flattenSpec: BuiltinSpec {
            BuiltinSpec(summary: "Merges the axes from `start` on into one.",
                        example: "print(flatten(zeros([2, 3, 4]), start: 1).shape)\n# expect: [2, 12]",
                        params: [Param("x", .tensor), Param("start", .integer(), default: .int(0))])
        }
        static func flatten(_ a: Args) throws -> Value {
            let x = try a.tensor("x")
            return .tensor(try x.flatten(from: try a.axis("start", rank: x.rank)))
        }

        static var transposeSpec: BuiltinSpec {
            BuiltinSpec(summary: "Swaps two axes (the last two by default).",
                        example: "print(transpose(zeros([2, 3])).shape)\n# expect: [3, 2]",
                        params: [Param("x", .tensor), Param("a", .integer(), default: .int(-2)), Param("b", .integer(), default: .int(-1))])
        }
        static func transpose(_ a: Args) throws -> Value {
            let x = try a.tensor("x")
            return .tensor(try x.transpose(try a.axis("a", rank: x.rank), try a.axis("b", rank: x.rank)))
        }

        static var permuteSpec: BuiltinSpec {
            BuiltinSpec(summary: "Reorders all axes.", example: "print(permute(zeros([2, 3, 4]), [2, 0, 1]).shape)\n# expect: [4, 2, 3]",
                        params: [Param("x", .tensor), Param("order", .list)])
        }
        static func permute(_ a: Args) throws -> Value {
            .tensor(try a.tensor("x").permute(try a.ints("order")))
        }

        static var matmulSpec: BuiltinSpec {
            BuiltinSpec(summary: "Matrix product (also `a @ b`); batched over leading axes.",
                        example: "let a = tensor([[1, 2], [3, 4]])\nprint(matmul(a, a), a @ a == matmul(a, a))\n# expect: tensor(2, 2) f32 [7, 10, 15, 22] true",
                        params: [Param("a", .tensor), Param("b", .tensor)])
        }
        static func matmul(_ a: Args) throws -> Value {
            .tensor(try Tensor.matmul(try a.tensor("a"), try a.tensor("b")))
        }

        static var softmaxSpec: BuiltinSpec {
            BuiltinSpec(summary: "Softmax over the last axis.",
                        example: "print(softmax(tensor([0, 0])))\n# expect: tensor(2) f32 [0.5, 0.5]", params: [Param("x", .tensor)])
        }
        static func softmax(_ a: Args) throws -> Value {
            .tensor(try a.tensor("x").softmax())
        }

        static var logSoftmaxSpec: BuiltinSpec {
            BuiltinSpec(summary: "log(softmax(x)) over the last axis, computed stably.",
                        example: "print(exp(log_softmax(tensor([0, 0]))))\n# expect: tensor(2) f32 [0.5, 0.5]", params: [Param("x", .tensor)])
        }
        static func logSoftmax(_ a: Args) throws -> Value {
            .tensor(try a.tensor("x").logSoftmax())
        }

        static var concatSpec: BuiltinSpec {
            BuiltinSpec(summary: "Joins tensors along an existing axis.",
                        example: "print(concat([ones([1, 2]), zeros([2, 2])]).shape)\n# expect: [3, 2]",
                        params: [Param("tensors", .list), Param("axis", .integer(), default: .int(0))])
        }
        static func concat(_ a: Args) throws -> Value {
            .tensor(try Tensor.concat(try tensorsArgument(a, "tensors"), axis: try a.int("axis")))
        }

        static var stackSpec: BuiltinSpec {
            BuiltinSpec(summary: "Joins same-shape tensors along a new axis.",
                        example: "print(stack([ones([2]), zeros([2])]).shape)\n# expect: [2, 2]",
                        params: [Param("tensors", .list), Param("axis", .integer(), default: .int(0))])
        }
        static func stack(_ a: Args) throws -> Value {
            .tensor(try Tensor.stack(try tensorsArgument(a, "tensors"), axis: try a.int("axis")))
        }

        static var itemSpec: BuiltinSpec {
            BuiltinSpec(summary: "The number inside a one-element tensor.",
                        example: "print(item(tensor([3.5])))\n# expect: 3.5", params: [Param("x", .tensor)])
        }
        static func item(_ a: Args) throws -> Value {
            let t = try a.tensor("x")
            guard t.count == 1 else { throw a.bad("x", "a one-element tensor expected, got shape \(shapeString(t.shape))") }
            return .number(Double(t.ptr[0]))
        }

        static var tolistSpec: BuiltinSpec {
            BuiltinSpec(summary: "The values of a tensor as (nested) lists of numbers.",
                        example: "print(tolist(tensor([[1, 2]])))\n# expect: [[1, 2]]", params: [Param("x", .tensor)])
        }
        static func tolist(_ a: Args) throws -> Value {
            let t = try a.tensor("x")
            func build(_ axis: Int, _ offset: Int) -> Value {
                if axis == t.rank { return .number(Double(t.ptr[offset])) }
                let stride = t.shape[(axis + 1)...].reduce(1, *)
                return .list((0..<t.shape[axis]).map { build(axis + 1, offset + $0 * stride) })
            }
            return build(0, 0)
        }

        static var backwardSpec: BuiltinSpec {
            BuiltinSpec(summary: "Backpropagates from a scalar: fills `.grad` of every tensor with `requires_grad` it depends on.",
                        help: "Gradients accumulate across calls (like PyTorch); clear them with `zero_grad(x)`.",
                        example: "let x = tensor([1, 2, 3], requires_grad: true)\nlet y = sum(x * x)\nbackward(y)\nprint(x.grad)\n# expect: tensor(3) f32 [2, 4, 6]",
                        params: [Param("y", .tensor)])
        }
        static func backward(_ a: Args) throws -> Value {
            try a.tensor("y").backward()
            return .nothing
        }

        static var zeroGradSpec: BuiltinSpec {
            BuiltinSpec(summary: "Clears the accumulated gradient of a tensor.",
                        example: "let x = tensor([1], requires_grad: true)\nbackward(sum(x * 2))\nzero_grad(x)\nprint(x.grad)\n# expect: none",
                        params: [Param("x", .tensor)])
        }
        static func zeroGrad(_ a: Args) throws -> Value {
            try a.tensor("x").zeroGrad()
            return .nothing
        }

        static var detachSpec: BuiltinSpec {
            BuiltinSpec(summary: "The same values cut off from the autodiff graph.",
                        example: "let x = tensor([1], requires_grad: true)\nprint(detach(x * 2).requires_grad)\n# expect: false",
                        params: [Param("x", .tensor)])
        }
        static func detach(_ a: Args) throws -> Value {
            .tensor(try a.tensor("x").detach())
        }

        static var noGradSpec: BuiltinSpec {
            BuiltinSpec(summary: "Calls `f()` without recording operations for autodiff (evaluation).",
                        example: "let x = tensor([1], requires_grad: true)\nlet y = no_grad(fn() { return x * 2 })\nprint(y.requires_grad)\n# expect: false",
                        params: [Param("f", .function)])
        }
        static func noGrad(_ a: Args) throws -> Value {
            let f = try a.value("f")
            return try withoutGradients { try a.call(f, []) }
        }
    }

    // Argument helpers of the tensor area.

    /// The spec of an elementwise function that also works on plain numbers (`exp(1)` is a number).
    fileprivate static func elementwiseSpec(_ summary: String, example: String) -> BuiltinSpec {
        BuiltinSpec(summary: summary, example: example, params: [Param("x", .oneOf([.number, .tensor]))])
    }

    /// Applies `number` to a number argument `x`, `tensor` to anything else.
    fileprivate static func elementwise(_ a: Args, number: (Double) -> Double, tensor: (Tensor) throws -> Tensor) throws -> Value {
        switch try a.value("x") {
        case .number(let n): return .number(number(n))
        default: return .tensor(try tensor(try a.tensor("x")))
        }
    }

    /// The Tensor module's `noGrad`, which the area's own `noGrad` hides inside `TensorArea`.
    fileprivate static func withoutGradients<T>(_ body: () throws -> T) rethrows -> T { try noGrad(body) }

    /// Axis parameter: a single axis, a list of axes, or none for all.
    fileprivate static func axesArgument(_ a: Args, _ name: String = "axis") throws -> [Int]? {
        a.isNone(name) ? nil : try a.ints(name)
    }

    fileprivate static func shapeArgument(_ a: Args) throws -> [Int] {
        let s = try a.ints("shape")
        guard s.allSatisfy({ $0 >= 0 }) else { throw a.bad("shape", "dimensions must be ≥ 0, got \(s)") }
        // The engine's per-tensor bound (Tensor.maxBytes), so the message names the shape and its bytes.
        do { try Tensor.checkAllocation(s, op: "shape") } catch let TensorError.argument(_, message) {
            throw a.bad("shape", message)
        }
        return s
    }

    fileprivate static func tensorsArgument(_ a: Args, _ name: String) throws -> [Tensor] {
        let items = try a.list(name)
        guard !items.isEmpty else { throw a.bad(name, "at least one tensor expected") }
        return try items.map { v in
            guard let t = try? tensorFromValue(v) else { throw a.bad(name, "a list of tensors expected, got \(v.brief) in it") }
            return t
        }
    }
}
