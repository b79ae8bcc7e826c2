/// Reverse-mode automatic differentiation with a runtime tape.
///
/// Every op that sees an input with `requiresGrad` (while grad mode is on) links its output to
/// its inputs and stores a vector-Jacobian product closure beside the forward code. `backward`
/// walks the graph in reverse topological order. Gradients accumulate into leaves; intermediate
/// gradients and the graph itself are freed once used (like PyTorch without `retain_graph`).
public enum GradMode {
    /// Whether ops record on the tape. Off inside `noGrad { … }`.
    /// Task-local (thread-local outside tasks) so concurrent callers, such as parallel tests,
    /// do not switch each other's mode.
    @TaskLocal public static var enabled = true
}

/// Runs `body` without recording anything on the tape (inference, evaluation, calibration).
public func noGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$enabled.withValue(false) { try body() }
}

extension Tensor {
    /// Whether an op with these inputs must record itself.
    @inlinable static func needsGrad(_ inputs: [Tensor]) -> Bool {
        GradMode.enabled && inputs.contains { $0.requiresGrad }
    }

    /// Links `self` (an op's output) to its inputs with the VJP `fn`, which receives dL/dself
    /// and adds into the inputs' gradients through `accumulateGrad`. Returns self.
    @discardableResult
    public func record(_ op: String, _ inputs: [Tensor], _ fn: @escaping (UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        self.op = op
        guard Tensor.needsGrad(inputs) else { return self }
        requiresGrad = true
        parents = inputs
        backwardFn = fn
        return self
    }

    /// The gradient buffer of this tensor, created as zeros on first use.
    /// VJPs add into it; `accumulateGrad` is the usual way.
    public func gradBuffer() -> UnsafeMutablePointer<Float> {
        if let g = gradStorage { return g.ptr }
        let g = Storage(zeros: count)
        gradStorage = g
        return g.ptr
    }

    /// The gradient buffer for a VJP that writes every element: a fresh, uninitialised buffer
    /// (`accumulate` false: the VJP must overwrite all of it) when there is none yet, else the
    /// existing one (`accumulate` true: add into it). Why: for memory-bound ops the zero-fill and
    /// the extra read of a zeroed buffer cost as much as the VJP itself.
    public func gradDestination() -> (ptr: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if let g = gradStorage { return (g.ptr, true) }
        let g = Storage(count: count)
        gradStorage = g
        return (g.ptr, false)
    }

    /// g_self += scale · v (v has self's element count). No-op when self needs no gradient.
    public func accumulateGrad(_ v: UnsafePointer<Float>, scale: Float = 1) {
        guard requiresGrad else { return }
        let (g, acc) = gradDestination()
        let n = count
        Parallel.forRange(n, grain: 1 << 16) { r in
            switch (acc, scale == 1) {
            case (true, true): for i in r { g[i] += v[i] }
            case (true, false): for i in r { g[i] += scale * v[i] }
            case (false, true): (g + r.lowerBound).update(from: v + r.lowerBound, count: r.count)
            case (false, false): for i in r { g[i] = scale * v[i] }
            }
        }
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { gradStorage = nil }

    /// Backpropagates from this tensor. With no `seed`, the tensor must hold one element and its
    /// gradient starts at 1.
    public func backward(seed: Tensor? = nil) throws {
        if let seed {
            guard seed.shape == shape else {
                throw TensorError.shape(op: "backward", message: "seed \(shapeString(seed.shape)) vs output \(shapeString(shape))")
            }
        } else if count != 1 {
            throw TensorError.argument(op: "backward", message: "needs a scalar (one element), got shape \(shapeString(shape)); pass a seed gradient")
        }
        guard requiresGrad else {
            throw TensorError.argument(op: "backward", message: "the value does not depend on any tensor that requires grad")
        }
        // Topological order by iterative DFS (deep graphs must not overflow the stack).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            if visited.contains(ObjectIdentifier(t)) { continue }
            visited.insert(ObjectIdentifier(t))
            stack.append((t, true))
            for p in t.parents where p.requiresGrad && !visited.contains(ObjectIdentifier(p)) {
                stack.append((p, false))
            }
        }
        if let seed { accumulateGrad(seed.ptr) } else { gradBuffer()[0] += 1 }
        for t in order.reversed() {
            guard let fn = t.backwardFn else { continue }  // a leaf keeps its gradient
            if let gs = t.gradStorage { fn(gs.ptr) }
            // Free the graph and the intermediate gradient once used.
            t.backwardFn = nil
            t.parents = []
            t.gradStorage = nil
        }
    }
}
