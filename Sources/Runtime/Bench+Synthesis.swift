import Foundation
import Tensor
import Models
import Synthesis

extension Synthesis {
    /// Milliseconds per iteration of each generator against a plain forward + backward (to the
    /// input, CE loss) of the same model on the same batch size. Also reports the loss terms'
    /// overhead over the plain pass (target ≤ 25 %) and MSR's extra cost separately. On ViT/DeiT also
    /// SMI's dense iteration and its sparse one after the default schedule (24 % of the patches kept).
    /// The kinds run in turns (one plain pass, then a two-iteration run of each generator) for `warmup`
    /// untimed and `iterations` timed rounds; each time is the fastest timed round, each overhead
    /// the median over the timed rounds of (generator / plain of the same round) − 1.
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

        /// One plain forward + backward (CE, to the input), in seconds.
        func plainPass() throws -> Double {
            let t0 = now()
            x.zeroGrad()
            let loss = try Tensor.crossEntropy(model.forward(x, capture: [], hooks: nil).logits, labels: labels)
            try loss.backward()
            return now() - t0
        }
        /// The second iteration of a two-iteration generator run, from the progress callbacks (setup
        /// and the first iteration excluded), in seconds.
        func generatorPass(_ o: SynthesisOptions) throws -> Double {
            var o = o
            o.iterations = 2
            var last = now(), fastest = Double.infinity
            _ = try Synthesis.generate(model: model, count: count, seed: seed, options: o, callbacks: SynthesisCallbacks(progress: { it, _, _ in
                let t = now()
                if it > 1 { fastest = Swift.min(fastest, t - last) }
                last = t
            }))
            return fastest
        }
        var noMSROptions = SynthesisOptions(method: .sardfq); noMSROptions.msr = false
        var kinds: [() throws -> Double] = [
            plainPass, { try generatorPass(SynthesisOptions(method: .psaq)) },
            { try generatorPass(noMSROptions) }, { try generatorPass(SynthesisOptions(method: .sardfq)) },
        ]
        if info.classToken {
            // SMI dense (its first iterations) and sparse: one pruning at iteration 0 that keeps what
            // the default schedule keeps in the end, (1 − 0.3)⁴ ≈ 24 %.
            var dense = SynthesisOptions(method: .smi); dense.smi.pruneAt = []
            var sparse = SynthesisOptions(method: .smi); sparse.smi.pruneAt = [0]; sparse.smi.pruneRatio = [1 - 0.7 * 0.7 * 0.7 * 0.7]
            kinds += [{ try generatorPass(dense) }, { try generatorPass(sparse) }]
        }
        // The kinds take turns round by round, so each sees the same machine load (the machine is
        // shared; back-to-back phases drift apart). Times: the minimum over the timed rounds, the
        // measurement least disturbed by other processes. Overheads: the median over rounds of
        // (generator / plain of the same round), steadier than a ratio of two minimums.
        var times = [[Double]](repeating: [], count: kinds.count)
        for round in 0..<(warmup + iterations) {
            let t = try kinds.map { try $0() }
            if round >= warmup { for k in kinds.indices { times[k].append(t[k]) } }
        }
        for p in model.params.tensors { p.zeroGrad() }
        func fastest(_ k: Int) -> Double { 1000 * times[k].min()! }
        func overhead(_ k: Int) -> Double {
            let r = zip(times[k], times[0]).map { $0 / $1 }.sorted()
            return 100 * (r[r.count / 2] - 1)
        }
        let (plain, psaq, sardfq, full) = (fastest(0), fastest(1), fastest(2), fastest(3))
        let smi = kinds.count > 4 ? [("smi dense ms/iter", fastest(4)), ("smi sparse ms/iter", fastest(5))] : []
        return smi + [
            ("forward+backward ms/iter", plain),
            ("psaq ms/iter", psaq),
            ("sardfq without msr ms/iter", sardfq),
            ("sardfq full ms/iter", full),
            ("psaq overhead %", overhead(1)),
            ("sardfq overhead % (msr excluded)", overhead(2)),
            ("msr crops extra ms/iter", full - sardfq),
        ]
    }
}
