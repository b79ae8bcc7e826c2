import Foundation
import Tensor
import Models

extension Synthesis {
    /// Milliseconds per iteration of each generator against a plain forward + backward (to the
    /// input, CE loss) of the same model on the same batch size. Also reports the loss terms'
    /// overhead over the plain pass (target ≤ 25 %) and MSR's extra cost separately.
    /// The first `warmup` iterations are not timed; each figure is the fastest timed iteration.
    /// - returns: (name, value) rows: "… ms/iter" in milliseconds, "… overhead %" in percent.
    public static func benchmark(model: VisionModel, count: Int = 32, iterations: Int = 10, warmup: Int = 2,
                                 seed: UInt64 = 0) throws -> [(String, Double)] {
        let info = ModelInfo(model)
        let shape = [count] + info.inputShape
        var rng = RNG(seed: seed)
        let x = Tensor.normal(shape, rng: &rng)
        x.requiresGrad = true
        // Gradients to the pixels only, as in synthesis (weights frozen).
        let frozen = model.params.tensors.filter(\.requiresGrad)
        for p in frozen { p.requiresGrad = false }
        defer { for p in frozen { p.requiresGrad = true } }
        let labels = (0..<count).map { _ in rng.int(info.numClasses) }

        // Minimum over the timed iterations: the machine is shared, and the minimum is the
        // measurement least disturbed by other processes.
        var best = Double.infinity
        for i in 0..<(warmup + iterations) {
            let t0 = now()
            x.zeroGrad()
            let loss = try Tensor.crossEntropy(model.forward(x, capture: [], hooks: nil).logits, labels: labels)
            try loss.backward()
            if i >= warmup { best = Swift.min(best, now() - t0) }
        }
        for p in model.params.tensors { p.zeroGrad() }
        let plain = 1000 * best

        /// Fastest iteration of a generator run, from the progress callbacks (setup excluded).
        func run(_ o: SynthesisOptions) throws -> Double {
            var o = o
            o.iterations = warmup + iterations
            var last = now(), fastest = Double.infinity
            _ = try generate(model: model, count: count, seed: seed, options: o, callbacks: SynthesisCallbacks(progress: { it, _, _ in
                let t = now()
                if it > warmup { fastest = Swift.min(fastest, t - last) }
                last = t
            }))
            for p in model.params.tensors { p.zeroGrad() }
            return 1000 * fastest
        }
        let psaq = try run(SynthesisOptions(method: .psaq))
        var noMSR = SynthesisOptions(method: .sardfq); noMSR.msr = false
        let sardfq = try run(noMSR)
        let full = try run(SynthesisOptions(method: .sardfq))
        return [
            ("forward+backward ms/iter", plain),
            ("psaq ms/iter", psaq),
            ("sardfq without msr ms/iter", sardfq),
            ("sardfq full ms/iter", full),
            ("psaq overhead %", 100 * (psaq / plain - 1)),
            ("sardfq overhead % (msr excluded)", 100 * (sardfq / plain - 1)),
            ("msr crops extra ms/iter", full - sardfq),
        ]
    }
}
