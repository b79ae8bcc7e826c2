import Foundation
import Testing
import Models
@testable import Synthesis
import Tensor

/// Sparse Model Inversion: its pruning schedule, the patches moving with the augmentation, its
/// masked result and its errors (the kept-token forward itself: ModelsTests/KeptTokensTests).
@Suite struct SMITests {
    /// 16 patches on a 4×4 grid; pruning at iterations 2 and 5 by 0.5: 16 → 8 → 4.
    func options(iters: Int = 8) -> SynthesisOptions {
        var o = SynthesisOptions(method: .smi)
        o.iterations = iters
        o.smi.pruneAt = [2, 5]
        o.smi.pruneRatio = [0.5]
        return o
    }

    @Test func prunesOnScheduleAndMasksTheDroppedPatches() throws {
        let set = try Synthesis.generate(model: TinyModels.sharpen(TinyModels.vit()), count: 3, seed: 4, options: options())
        let kept = set.draws.keptPatches
        #expect(kept.count == 3 && kept.allSatisfy { $0.count == 4 && $0 == $0.sorted() && Set($0).count == 4 })
        #expect(set.info["kept_patches"] == "4 of 16")
        // Dropped patches are black (pixel 0, i.e. −mean/std normalized); kept ones are not all black.
        let black = (0 - set.mean[0]) / set.std[0], img = set.images
        for i in 0..<3 {
            for q in 0..<16 {
                let (py, px) = (q / 4, q % 4)
                var allBlack = true
                for y in 0..<4 { for x in 0..<4 where img.ptr[i * 256 + (py * 4 + y) * 16 + px * 4 + x] != black { allBlack = false } }
                if kept[i].contains(q) { #expect(!allBlack, "kept patch \(q) of image \(i) is black") }
                else { #expect(allBlack, "dropped patch \(q) of image \(i) is not black") }
            }
        }
        // No augmentation on a pruning iteration and the one before it (1, 2, 4, 5).
        for it in [1, 2, 4, 5] { #expect(set.draws.jitter[it] == (0, 0) && !set.draws.flips[it], "iteration \(it) was augmented") }
        #expect(set.draws.jitter.count == 8)
    }

    @Test func sameSeedSameImagesAndTheRecordRoundTrips() throws {
        let m = TinyModels.vit()
        let a = try Synthesis.generate(model: m, count: 2, seed: 9, options: options())
        let b = try Synthesis.generate(model: m, count: 2, seed: 9, options: options())
        #expect(a.images.array.map(\.bitPattern) == b.images.array.map(\.bitPattern) && a.draws.keptPatches == b.draws.keptPatches)
        let back = try ImageSet.load(data: a.data())
        #expect(back.draws.keptPatches == a.draws.keptPatches && back.method == "smi")
    }

    @Test func theRankingKeepsTheMostAttendedPatches() {
        let kept = Synthesis.prune([[0, 3, 5, 9, 12]], scores: [[0.1, 0.5, 0.05, 0.3, 0.5]], ratio: 0.4)
        #expect(kept == [[3, 9, 12]])  // ⌊5·0.6⌋ = 3, ties to the lower index, result sorted
        #expect(Synthesis.prune([[4, 7]], scores: [[0.2, 0.1]], ratio: 0.9) == [[4]])  // at least one
    }

    @Test func keptPatchesMoveWithTheRollAndTheFlip() {
        // 4×4 grid of 4-pixel patches: a roll of 6 pixels is 2 patches (half up), of 5 is 1, of −6 is −1.
        let g = (h: 4, w: 4)
        #expect(Synthesis.movedPatches([0], dy: 0, dx: 6, flip: false, grid: g, patch: 4) == [2])
        #expect(Synthesis.movedPatches([0], dy: 5, dx: 0, flip: false, grid: g, patch: 4) == [4])
        #expect(Synthesis.movedPatches([0], dy: 0, dx: -6, flip: false, grid: g, patch: 4) == [3])  // wraps
        #expect(Synthesis.movedPatches([1, 4], dy: 0, dx: 0, flip: true, grid: g, patch: 4) == [2, 7])
        #expect(Synthesis.movedPatches([15], dy: 4, dx: 4, flip: false, grid: g, patch: 4) == [0])
    }

    @Test func theSparsePassesFitTheTargets() throws {
        // With the model sharpened, CE to the random targets falls although most patches are gone.
        var o = options(iters: 30)
        o.smi.pruneAt = [3, 6]
        var first: Double?, last: Double?
        let cb = SynthesisCallbacks(progress: { it, _, terms in
            let ce = terms.first { $0.0 == "ce" }!.1
            if it == 1 { first = ce }
            last = ce
        })
        _ = try Synthesis.generate(model: TinyModels.sharpen(TinyModels.vit()), count: 4, seed: 2, options: o, callbacks: cb)
        #expect(try #require(last) < (try #require(first)) * 0.7, "CE \(first!) → \(last!)")
    }

    @Test func refusesSwinAndBadSchedules() throws {
        #expect(throws: SynthesisError.self) { try Synthesis.generate(model: TinyModels.swin(), count: 2, seed: 0, options: options()) }
        do {
            _ = try Synthesis.generate(model: TinyModels.swin(), count: 2, seed: 0, options: options())
        } catch { #expect("\(error)".contains("ViT/DeiT models only")) }
        var o = options(); o.smi.pruneAt = [5, 2]
        #expect(throws: SynthesisError.self) { try Synthesis.generate(model: TinyModels.vit(), count: 2, seed: 0, options: o) }
        o = options(); o.smi.pruneRatio = [1]
        #expect(throws: SynthesisError.self) { try Synthesis.generate(model: TinyModels.vit(), count: 2, seed: 0, options: o) }
    }
}
