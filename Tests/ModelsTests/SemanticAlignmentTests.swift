import Testing
import Tensor
@testable import Models

/// Table 1's metric by hand on 2-D features.
@Suite("semantic alignment")
struct SemanticAlignmentTests {
    // Reference: class 0 at (1, 0) and (1, 2) (mean (1, 1)), class 1 at (0, 1) alone.
    let ref = try! Tensor(shape: [3, 2], [1, 0, 1, 2, 0, 1])
    let refLabels = [0, 0, 1]

    @Test func cosineToTheClassMean() throws {
        let x = try Tensor(shape: [3, 2], [1, 1, -1, -1, 2, 0])
        let s = try SemanticAlignment.scores(features: x, labels: [0, 0, 1], reference: ref, referenceLabels: refLabels, leaveOneOut: false)
        #expect(abs(s[0]! - 1) < 1e-6)          // same direction as (1, 1)
        #expect(abs(s[1]! + 1) < 1e-6)          // opposite
        #expect(abs(s[2]! - 0) < 1e-6)          // (2, 0) ⟂ (0, 1)
    }

    @Test func leaveOneOutRemovesTheImageItself() throws {
        let s = try SemanticAlignment.scores(features: ref, labels: refLabels, reference: ref, referenceLabels: refLabels, leaveOneOut: true)
        // (1, 0) against the other class-0 image (1, 2): 1/√5; (1, 2) against (1, 0): 1/√5.
        #expect(abs(s[0]! - 1 / Float(5).squareRoot()) < 1e-6)
        #expect(abs(s[1]! - 1 / Float(5).squareRoot()) < 1e-6)
        #expect(s[2] == nil)                    // class 1 has no other reference image
    }

    @Test func unknownClassIsSkippedAndBadShapesFail() throws {
        let s = try SemanticAlignment.scores(features: try Tensor(shape: [1, 2], [1, 0]), labels: [7], reference: ref,
                                             referenceLabels: refLabels, leaveOneOut: false)
        #expect(s == [nil])
        #expect(throws: TensorError.self) {
            _ = try SemanticAlignment.scores(features: try Tensor(shape: [1, 3], [1, 0, 0]), labels: [0], reference: ref,
                                             referenceLabels: refLabels, leaveOneOut: false)
        }
        #expect(throws: TensorError.self) {
            _ = try SemanticAlignment.scores(features: try Tensor(shape: [1, 2], [1, 0]), labels: [0], reference: ref,
                                             referenceLabels: refLabels, leaveOneOut: true)
        }
    }
}
