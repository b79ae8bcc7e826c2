import Foundation
import Testing
import Models
@testable import Synthesis
import Tensor

@Suite struct GeneratorTests {
    func options(_ m: SynthesisMethod, iters: Int = 6) -> SynthesisOptions {
        var o = SynthesisOptions(method: m)
        o.iterations = iters
        return o
    }

    @Test(arguments: ["vit", "swin"])
    func sameSeedSameImagesBitForBit(family: String) throws {
        let model = family == "vit" ? TinyModels.vit() : TinyModels.swin()
        for m in [SynthesisMethod.psaq, .sardfq] {
            let a = try Synthesis.generate(model: model, count: 3, seed: 7, options: options(m))
            let b = try Synthesis.generate(model: model, count: 3, seed: 7, options: options(m))
            #expect(a.images.array.map(\.bitPattern) == b.images.array.map(\.bitPattern), "\(family) \(m)")
            #expect(a.labels == b.labels && a.draws.regions == b.draws.regions)
            #expect(a.draws.jitter.map { [$0.0, $0.1] } == b.draws.jitter.map { [$0.0, $0.1] } && a.draws.flips == b.draws.flips)
            let c = try Synthesis.generate(model: model, count: 3, seed: 8, options: options(m))
            #expect(a.images.array != c.images.array)
        }
    }

    @Test func recordOfDraws() throws {
        let set = try Synthesis.generate(model: TinyModels.vit(), count: 4, seed: 3, options: options(.sardfq, iters: 10))
        let d = set.draws
        #expect(d.labels == set.labels && d.labels.count == 4)
        #expect(d.jitter.count == 10 && d.flips.count == 10)
        // One offset on both axes; limits at 16 px: round 1 max(1, round(15·16/224)) = 1, round 2 round(30·16/224) = 2.
        #expect(d.jitter.allSatisfy { $0.0 == $0.1 })
        let round1: Bool = d.jitter.prefix(5).allSatisfy { Swift.abs($0.0) <= 1 && Swift.abs($0.1) <= 1 }
        let round2: Bool = d.jitter.allSatisfy { Swift.abs($0.0) <= 2 && Swift.abs($0.1) <= 2 }
        #expect(round1 && round2)
        // τ ~ U(2500, 3000) scaled by √(4·1·16·16 / (32·3·224·224)).
        let scale = (Float(4 * 16 * 16) / Float(32 * 3 * 224 * 224)).squareRoot()
        #expect(d.tau! >= 2500 * scale && d.tau! <= 3000 * scale)
        #expect(d.priors.map(\.block) == [0, 1])  // the paper's l = L/2 … L of L = 2 blocks
        #expect(!d.regions.isEmpty)
        // Images end inside the normalized image of [0, 1].
        let (m, s) = (Presets.fashionMNIST.mean[0], Presets.fashionMNIST.std[0])
        let (lo, hi): (Float, Float) = ((0 - m) / s - 1e-6, (1 - m) / s + 1e-6)
        let inRange: Bool = set.images.array.allSatisfy { $0 >= lo && $0 <= hi }
        #expect(inRange)
        let px = set.denormalized().array
        #expect(px.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func saveAndLoadRoundTrip() throws {
        var o = options(.sardfq, iters: 3)
        o.snapshotEvery = 1
        var snaps: [Int] = []
        var progressTerms: [String] = []
        let cb = SynthesisCallbacks(progress: { _, _, terms in progressTerms = terms.map(\.0) }, snapshot: { it, x in
            snaps.append(it)
            #expect(x.shape == [2, 1, 16, 16])
        })
        let set = try Synthesis.generate(model: TinyModels.swin(), count: 2, seed: 11, options: o, callbacks: cb)
        #expect(snaps == [1, 2, 3])
        #expect(progressTerms == ["apa", "sl", "sl_regions", "tv", "total"])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("synth-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try set.save(path: path)
        let back = try ImageSet.load(path: path)
        #expect(back.images.array == set.images.array && back.labels == set.labels)
        #expect(back.softTargets.array == set.softTargets.array)
        #expect(back.method == "sardfq" && back.seed == 11 && back.mean == set.mean && back.std == set.std)
        #expect(back.draws.regions == set.draws.regions && back.draws.flips == set.draws.flips)
        #expect(back.draws.tau == set.draws.tau)
        #expect(back.draws.priors.map(\.block) == set.draws.priors.map(\.block))
        #expect(back.draws.priors.first?.prior.array == set.draws.priors.first?.prior.array)
        #expect(back.info["options"] == set.info["options"])
    }

    @Test func nanStopsWithIterationAndTerm() throws {
        var o = options(.psaq, iters: 5)
        o.tvWeight = .nan
        do {
            _ = try Synthesis.generate(model: TinyModels.vit(), count: 2, seed: 1, options: o)
            Issue.record("expected the run to stop")
        } catch let e as SynthesisError {
            guard case let .nonFinite(it, term, v) = e else { Issue.record("wrong error \(e)"); return }
            #expect(it == 1 && term == "tv" && v.isNaN)
            #expect(e.description.contains("iteration 1") && e.description.contains("'tv'"))
        }
    }

    /// The images of every step are checked, the last one's included: with every loss weight 0 and
    /// Adam's ε = 0 the one step divides 0 by 0, and the run must not return those images.
    @Test func theLastStepIsChecked() throws {
        var o = options(.psaq, iters: 1)
        o.pseWeight = 0; o.ceWeight = 0; o.tvWeight = 0; o.eps = 0
        do {
            _ = try Synthesis.generate(model: TinyModels.vit(), count: 2, seed: 1, options: o)
            Issue.record("expected the run to stop")
        } catch let e as SynthesisError {
            guard case let .nonFinite(it, term, _) = e else { Issue.record("wrong error \(e)"); return }
            #expect(it == 1 && term == "images")
        }
    }

    @Test func nonFiniteOrNegativeLRAndAlpha1AreRefused() {
        for lr: Float in [.nan, .infinity, -0.1, 0] {
            var o = options(.sardfq); o.lr = lr
            #expect(throws: SynthesisError.self, "lr \(lr)") { try Synthesis.generate(model: TinyModels.vit(), count: 2, seed: 1, options: o) }
        }
        for a: Float in [.nan, .infinity, -1] {
            var o = options(.sardfq); o.alpha1 = a
            #expect(throws: SynthesisError.self, "alpha1 \(a)") { try Synthesis.generate(model: TinyModels.vit(), count: 2, seed: 1, options: o) }
        }
    }

    @Test func componentsSwitchOffCleanly() throws {
        var o = options(.sardfq, iters: 2)
        o.apa = false; o.msr = false; o.softLabels = false
        var terms: [String] = []
        let set = try Synthesis.generate(model: TinyModels.vit(), count: 2, seed: 1, options: o,
                                         callbacks: SynthesisCallbacks(progress: { _, _, t in terms = t.map(\.0) }))
        #expect(terms == ["ce", "tv", "total"])
        #expect(set.draws.regions.isEmpty && set.draws.priors.isEmpty && set.draws.imageZ == nil)
        #expect(set.softTargets.array.filter { $0 == 1 }.count == 2)
    }

    /// Runs 40 iterations and returns each term's first value and its mean over the last 8
    /// (single values are noisy: jitter, flips and the second round's warm-up).
    func trajectory(_ o: SynthesisOptions) throws -> (first: [String: Double], late: [String: Double]) {
        let model = TinyModels.sharpen(TinyModels.vit(seed: 3))
        var first: [String: Double] = [:], late: [String: Double] = [:]
        _ = try Synthesis.generate(model: model, count: 4, seed: 2, options: o, callbacks: SynthesisCallbacks(progress: { it, n, t in
            if it == 1 { first = Dictionary(uniqueKeysWithValues: t) }
            if it > n - 8 { for (k, v) in t { late[k, default: 0] += v / 8 } }
        }))
        return (first, late)
    }

    @Test func psaqAndSardfqLowerTheirLosses() throws {
        for m in [SynthesisMethod.psaq, .sardfq] {
            var o = options(m, iters: 40)
            o.msr = false
            o.alpha1 = 10
            let (first, late) = try trajectory(o)
            let key = m == .psaq ? "ce" : "sl"
            #expect(late[key]! < first[key]!, "\(m): \(key) \(first[key]!) → \(late[key]!)")
            #expect(late["total"]! < first["total"]!, "\(m): total \(first["total"]!) → \(late["total"]!)")
        }
        // APA alone moves the attention towards the priors.
        var o = options(.sardfq, iters: 40)
        o.msr = false; o.ceWeight = 0; o.tvWeight = 0; o.alpha1 = 1000
        let (first, late) = try trajectory(o)
        #expect(late["apa"]! < 0.9 * first["apa"]!, "apa \(first["apa"]!) → \(late["apa"]!)")
    }

    @Test func noiseAndRealSets() throws {
        let model = TinyModels.vit()
        let noise = try Synthesis.generate(model: model, count: 3, seed: 4, options: options(.noise))
        #expect(noise.images.shape == [3, 1, 16, 16])
        var o = options(.real)
        o.realImages = randn([6, 1, 16, 16], seed: 5)
        o.realLabels = [0, 1, 2, 3, 4, 0]
        let real = try Synthesis.generate(model: model, count: 4, seed: 4, options: o)
        #expect(real.labels == real.draws.realIndices.map { o.realLabels![$0] })
        for (k, i) in real.draws.realIndices.enumerated() {
            #expect(Array(real.images.array[(k * 256)..<(k * 256 + 256)]) == Array(o.realImages!.array[(i * 256)..<(i * 256 + 256)]))
        }
        #expect(throws: SynthesisError.self) { _ = try Synthesis.generate(model: model, count: 2, seed: 1, options: options(.real)) }
    }
}
