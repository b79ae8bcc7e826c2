import Foundation
import Testing
import Fuzz

/// The repository root, from this file's path (tests may run from any folder).
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The short deterministic pass of every fuzz harness (the long runs are `make fuzz`, docs/fuzzing.md):
/// the repository's seeds and 2 000 mutations of them give no finding.
@Test(arguments: FuzzHarness.all.map(\.name))
func fuzzHarnessShortPass(_ name: String) throws {
    let harness = try #require(FuzzHarness.named(name))
    let seeds = harness.seeds(root: repositoryRoot)
    #expect(seeds.count >= 2, "\(name): \(seeds.count) seeds")
    let findings = Mutator.run(harness, seeds: seeds, count: 2000, seed: 7)
    #expect(findings.isEmpty, "\(name): \(findings.prefix(3).map { "\($0.finding) on \($0.input.prefix(64))" })")
}

/// Mutation is deterministic: the same seed gives the same inputs, so a finding reproduces.
@Test func mutatorIsDeterministic() {
    var a = Mutator(seed: 3), b = Mutator(seed: 3)
    let x = Array("let x = [1, 2]".utf8), y = Array("print(x)".utf8)
    for _ in 0..<50 { #expect(a.mutate(x, other: y) == b.mutate(x, other: y)) }
}

/// A harness reports what it must: an input that fails in an untyped way or a diagnostic without a
/// position would be a finding; a valid seed and a plain syntax error are not.
@Test func harnessesAcceptValidAndRejectedInputsAlike() throws {
    let script = try #require(FuzzHarness.named("script"))
    #expect(script.run(Array("let x = 1\nprint(x)".utf8)) == nil)
    #expect(script.run(Array("let = (".utf8)) == nil)
    #expect(script.run([0xFF, 0x00]) == nil)
    let idx = try #require(FuzzHarness.named("idx"))
    #expect(idx.run([0, 0, 8, 1, 0xFF, 0xFF, 0xFF, 0xFF]) == nil)
}
