import Foundation
import Testing
import Models
@testable import Synthesis
import Tensor

@Suite struct PropertyTests {
    @Test(arguments: [PriorKind.gmm, .laplace])
    func priorsAreDistributionsPerHead(kind: PriorKind) throws {
        var rng = RNG(seed: 21)
        for (gh, gw) in [(8, 8), (4, 6), (14, 14), (1, 3)] {
            for _ in 0..<20 {
                let p = Priors.draw(kind: kind, components: 5, gridH: gh, gridW: gw, rng: &rng)
                #expect(p.count == gh * gw)
                #expect(p.allSatisfy { $0 >= 0 && $0.isFinite })
                let s = p.reduce(0, +)
                #expect(Swift.abs(s - 1) < 1e-5, "sum \(s) on \(gh)×\(gw)")
            }
        }
        // Through the public entry point, for every used block of both families.
        var o = SynthesisOptions(); o.priorKind = kind
        for model in [TinyModels.vit(), TinyModels.swin()] {
            let ps = try Synthesis.priors(model: model, count: 3, seed: 4, options: o).blocks
            let info = ModelInfo(model)
            #expect(ps.map(\.block) == Losses.apaBlocks(total: info.blocks.count).map(\.block))
            for p in ps {
                let b = info.blocks[p.block]
                #expect(p.prior.shape == [3, b.heads, b.gridH * b.gridW])
                let sums = try p.prior.sum(axes: [2])
                #expect(sums.array.allSatisfy { Swift.abs($0 - 1) < 1e-5 })
                #expect(p.prior.array.allSatisfy { $0 >= 0 })
            }
        }
    }

    @Test func priorsDifferPerImageAndHead() throws {
        let p = try Synthesis.priors(model: TinyModels.vit(), count: 2, seed: 1).blocks[0].prior   // (2, 2, 16)
        let rows = (0..<4).map { Array(p.array[($0 * 16)..<($0 * 16 + 16)]) }
        #expect(Set(rows.map { $0.description }).count == 4)
    }

    @Test func realPriorsAreTheModelsAttention() throws {
        let model = TinyModels.vit()
        var o = SynthesisOptions(); o.priorKind = .real
        o.realImages = randn([5, 1, 16, 16], seed: 2)
        let (blocks, idx) = try Synthesis.priors(model: model, count: 3, seed: 9, options: o)
        #expect(idx.count == 3 && Set(idx).count == 3)
        let maps = try Priors.attentionMaps(model: model, images: o.realImages!.indexSelect(axis: 0, indices: idx))
        for b in blocks { #expect(b.prior.maxRelativeDifference(to: maps[b.block]) < 1e-6) }
    }

    @Test func msrRegionsNeverOverlapAndLieInside() {
        var rng = RNG(seed: 31)
        var counts = Set<Int>()
        for (h, w) in [(32, 32), (224, 224), (16, 24), (9, 7)] {
            for img in 0..<300 {
                let rs = MSR.layout(image: img, height: h, width: w, maxRegions: 4, classes: 10, rng: &rng)
                counts.insert(rs.count)
                #expect(!rs.isEmpty && rs.count <= 4)
                for (i, r) in rs.enumerated() {
                    #expect(r.box.image == img && r.label >= 0 && r.label < 10)
                    let b = r.box
                    let inside: Bool = b.y >= 0 && b.x >= 0 && b.y + b.h <= h && b.x + b.w <= w
                    #expect(inside, "\(r) outside \(h)×\(w)")
                    let (hLo, wLo): (Int, Int) = ((h + 3) / 4, (w + 3) / 4)
                    let sizeOK: Bool = b.h >= hLo && b.h <= Swift.max(hLo, h / 2) && b.w >= wLo && b.w <= Swift.max(wLo, w / 2)
                    #expect(sizeOK, "\(r) size")
                    for s in rs[(i + 1)...] { #expect(!r.box.overlaps(s.box), "\(r) overlaps \(s)") }
                }
            }
        }
        #expect(counts == [1, 2, 3, 4])
    }

    @Test func softTargetsSumToOneWithMassOnTheDrawnClasses() throws {
        var rng = RNG(seed: 41)
        let sets = [[3], [1, 7], [2, 2, 9], [0, 4, 5, 6, 8]]
        let z = SoftLabels.logits(sets, numClasses: 10, rng: &rng)
        let t = try SoftLabels.targets(z)
        for (i, set) in sets.enumerated() {
            let row = Array(t.array[(i * 10)..<(i * 10 + 10)])
            #expect(Swift.abs(row.reduce(0, +) - 1) < 1e-5)
            let zr = Array(z.array[(i * 10)..<(i * 10 + 10)])
            for c in 0..<10 {
                if set.contains(c) { #expect(zr[c] >= 5 && zr[c] < 10) } else { #expect(zr[c] == 0) }
            }
            let onSet = Set(set).reduce(Float(0)) { $0 + row[$1] }
            // Each drawn class has logit ≥ 5 against 0 for the others: at least e⁵/(e⁵ + 9) of the mass.
            #expect(onSet > 0.94, "row \(i): mass on drawn classes \(onSet)")
        }
    }

    @Test func sardfqSoftTargetsCoverImageAndRegionClasses() throws {
        // The paper's literal U(5, 10) puts nearly all mass on the drawn classes (the matched draw's
        // mass is checked in PriorTargetTests).
        var o = SynthesisOptions(); o.iterations = 2; o.softLabelScale = .literal
        let set = try Synthesis.generate(model: TinyModels.vit(), count: 4, seed: 5, options: o)
        #expect(set.softTargets.shape == [4, 5])
        for i in 0..<4 {
            var classes: Set<Int> = [set.labels[i]]
            for r in set.draws.regions where r.box.image == i { classes.insert(r.label) }
            let row = Array(set.softTargets.array[(i * 5)..<(i * 5 + 5)])
            #expect(Swift.abs(row.reduce(0, +) - 1) < 1e-5)
            let z = Array(set.draws.imageZ!.array[(i * 5)..<(i * 5 + 5)])
            let drawn = z.enumerated().filter { $0.element != 0 }.map(\.offset)
            #expect(Set(drawn) == classes, "image \(i): Z non-zero at \(drawn), drawn \(classes)")
            let mass = classes.reduce(Float(0)) { $0 + row[$1] }
            #expect(mass > 0.95, "image \(i): mass \(mass) on \(classes)")
        }
        #expect(set.draws.regionZ?.shape == [set.draws.regions.count, 5])
    }
}
