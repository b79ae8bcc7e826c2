import Foundation

/// Seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// Why our own: `Float.random` asks the system for entropy per number (slow, and not
/// reproducible). The same seed gives the same sequence bit for bit on every build.
public struct RNG {
    private var s0, s1, s2, s3: UInt64
    /// A spare normal deviate from the last Box–Muller pair.
    private var spare: Float?

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// A generator for a named sub-stream: `rng.derive("priors")` does not disturb `rng`,
    /// so adding a new random draw in one place leaves every other stream unchanged.
    public func derive(_ label: String, _ index: Int = 0) -> RNG {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the label
        for b in label.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        h ^= UInt64(bitPattern: Int64(index)) &* 0x9E37_79B9_7F4A_7C15
        return RNG(seed: s0 ^ h)
    }

    @inline(__always) public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 bits of precision.
    @inline(__always) public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 bits.
    @inline(__always) public mutating func nextDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * nextFloat() }

    /// Uniform integer in [0, n).
    public mutating func int(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }

    /// Uniform integer in the closed range.
    public mutating func int(in r: ClosedRange<Int>) -> Int { r.lowerBound + int(r.upperBound - r.lowerBound + 1) }

    /// Bernoulli(p).
    public mutating func bool(_ p: Double = 0.5) -> Bool { nextDouble() < p }

    /// Standard normal (Box–Muller in double precision, deterministic).
    public mutating func normal() -> Float {
        if let s = spare { spare = nil; return s }
        var u1 = nextDouble()
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = nextDouble()
        let r = (-2 * _log(u1)).squareRoot()
        let a = 2 * Double.pi * u2
        spare = Float(r * _sin(a))
        return Float(r * _cos(a))
    }

    public mutating func fillNormal(_ buf: UnsafeMutableBufferPointer<Float>, mean: Float = 0, std: Float = 1) {
        for i in 0..<buf.count { buf[i] = mean + std * normal() }
    }

    /// Fisher–Yates permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, int(i + 1)) } }
        return p
    }
}

// Double-precision libm (not in hot loops).
@usableFromInline func _log(_ x: Double) -> Double { Foundation.log(x) }
@usableFromInline func _sin(_ x: Double) -> Double { Foundation.sin(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Foundation.cos(x) }
