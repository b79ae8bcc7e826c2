import Tensor

/// A small deterministic mutation fuzzer for the test suite's short pass (the long runs use
/// libFuzzer, `make fuzz`): from the seeds, each step takes one input and applies one to four of
/// byte flips, random bytes, "interesting" values, deletions, duplications of a span and splices
/// with another input. The same seed gives the same inputs, so a finding reproduces.
public struct Mutator {
    var rng: RNG
    let maxLength: Int
    static let interesting: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x22, 0x27, 0x5B, 0x5D, 0x7B, 0x7D, 0x0A, 0x5C, 0x2C, 0x3A]

    public init(seed: UInt64, maxLength: Int = 65_536) {
        rng = RNG(seed: seed)
        self.maxLength = maxLength
    }

    public mutating func mutate(_ input: [UInt8], other: [UInt8]) -> [UInt8] {
        var x = input
        for _ in 0..<(1 + rng.int(4)) {
            switch rng.int(7) {
            case 0 where !x.isEmpty:
                x[rng.int(x.count)] ^= UInt8(1 << rng.int(8))
            case 1 where !x.isEmpty:
                x[rng.int(x.count)] = UInt8(truncatingIfNeeded: rng.next())
            case 2:
                x.insert(Mutator.interesting[rng.int(Mutator.interesting.count)], at: rng.int(x.count + 1))
            case 3 where x.count > 1:
                let a = rng.int(x.count), n = 1 + rng.int(min(16, x.count - a))
                x.removeSubrange(a..<(a + n))
            case 4 where !x.isEmpty:
                let a = rng.int(x.count), n = 1 + rng.int(min(64, x.count - a))
                x.insert(contentsOf: x[a..<(a + n)], at: rng.int(x.count + 1))
            case 5 where !other.isEmpty:
                let a = rng.int(other.count), n = 1 + rng.int(min(256, other.count - a))
                x.insert(contentsOf: other[a..<(a + n)], at: rng.int(x.count + 1))
            case 6 where x.count >= 4:
                // A 32-bit field set to a boundary value (lengths and offsets in binary headers).
                let a = rng.int(x.count - 3)
                let v: UInt32 = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, UInt32(x.count)][rng.int(6)]
                for k in 0..<4 { x[a + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(rng.bool() ? k : 3 - k))) }
            default:
                break
            }
        }
        return x.count > maxLength ? Array(x.prefix(maxLength)) : x
    }

    /// Runs `count` mutated inputs through `harness`; returns the findings with the input that caused each.
    public static func run(_ harness: FuzzHarness, seeds: [[UInt8]], count: Int, seed: UInt64) -> [(finding: String, input: [UInt8])] {
        guard !seeds.isEmpty else { return [("no seeds", [])] }
        var m = Mutator(seed: seed)
        var findings: [(String, [UInt8])] = []
        for s in seeds { if let f = harness.run(s) { findings.append((f, s)) } }
        for _ in 0..<count {
            let a = seeds[m.rng.int(seeds.count)], b = seeds[m.rng.int(seeds.count)]
            let x = m.mutate(a, other: b)
            if let f = harness.run(x) { findings.append((f, x)) }
        }
        return findings
    }
}
