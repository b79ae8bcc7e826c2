import Foundation
import Testing
@testable import Synthesis
import Tensor

/// `SynthesisOptions.labels`: chosen target classes (Figure 1(a) on a 1000-class model).
@Suite struct TargetLabelsTests {
    @Test func givenLabelsRepeatToTheImageCountAndSteerTheTargets() throws {
        let model = TinyModels.vit()
        var o = SynthesisOptions(method: .sardfq)
        o.iterations = 2
        o.labels = [3, 1]
        let set = try Synthesis.generate(model: model, count: 5, seed: 2, options: o)
        #expect(set.labels == [3, 1, 3, 1, 3])
        // The soft target of each image keeps mass on its own class (MSR regions add others).
        for (i, l) in set.labels.enumerated() { #expect(set.softTargets.ptr[i * 5 + l] > 0) }
        // The same options and seed give the same images; other labels give other images.
        let again = try Synthesis.generate(model: model, count: 5, seed: 2, options: o)
        #expect(again.images.array == set.images.array)
        o.labels = [0]
        let other = try Synthesis.generate(model: model, count: 5, seed: 2, options: o)
        #expect(other.labels == [0, 0, 0, 0, 0])
        #expect(other.images.array != set.images.array)
    }

    @Test func labelsEnterTheSummaryOnlyWhenGiven() {
        var o = SynthesisOptions(method: .psaq)
        #expect(!o.summary.contains("labels="), "runs without labels keep their cache keys")
        o.labels = [2, 0]
        #expect(o.summary.contains("labels=[2, 0]"))
    }

    @Test func labelsOutsideTheModelsClassesAreErrors() {
        var o = SynthesisOptions(method: .noise)
        o.labels = [5]
        #expect(throws: SynthesisError.self) { _ = try Synthesis.generate(model: TinyModels.vit(), count: 2, seed: 0, options: o) }
        o.labels = []
        #expect(throws: SynthesisError.self) { _ = try Synthesis.generate(model: TinyModels.vit(), count: 2, seed: 0, options: o) }
    }
}
