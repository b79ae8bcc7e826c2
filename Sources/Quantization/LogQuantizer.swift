import Foundation
import Tensor
import CKernels

/// Log-domain quantizers for post-softmax attention probabilities (values in [0, 1]).
///
/// - `.sqrt2` (RepQ-ViT's log√2): x_int = round(−2·log2(x/Δ)); levels ≥ 2^b map to 0;
///   x_q = clamp(x_int, 0, 2^b − 1); x̂ = 2^(−⌈x_q/2⌉)·(1 + (√2 − 1)·(x_q mod 2))·Δ.
///   Δ is chosen from Δ = quantile(x, pct), pct ∈ {0.999, 0.9999, 0.99999}, by MSE.
/// - `.shiftUniformLog2` (I&S-ViT's SULQ): l = log2(x + η), uniform on [min l, max l] with
///   2^b levels, x̂ = 2^(l̂) − η; η from {0.001 … 1} by MSE. [decision] The dequantized exponent
///   is not rounded to an integer (the paper's formula; the public code rounds it again).
public final class LogQuantizer: Quantizer {
    public enum Variant: String, Sendable, CaseIterable, Codable { case sqrt2 = "log√2", shiftUniformLog2 = "sulq" }

    public let bits: Int
    public let variant: Variant
    public let percentiles: [Double]
    /// log√2: Δ. SULQ: the shift η.
    public private(set) var delta: Float = 0
    /// SULQ only: the exponent range [lmin, lmax].
    public private(set) var logRange: (Float, Float) = (0, 0)
    public private(set) var isCalibrated = false

    /// The shifts SULQ searches (I&S-ViT's list).
    public static let sulqShifts: [Float] = [0.001, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.1, 0.2, 0.5, 1.0]

    /// log√2 only: the value of each level (`sqrt2Table(bits)`), made once.
    public let levelValues: [Float]

    public init(bits: Int, variant: Variant = .sqrt2, percentiles: [Double] = [0.999, 0.9999, 0.99999]) throws {
        try checkBits(bits, "log quantizer")
        self.bits = bits; self.variant = variant; self.percentiles = percentiles
        levelValues = variant == .sqrt2 ? LogQuantizer.sqrt2Table(bits) : []
    }

    public var scheme: String { variant.rawValue }
    public var granularity: Granularity { .tensor }
    public var scales: [Float] { isCalibrated ? [delta] : [] }
    public var zeroPoints: [Float] { [] }

    public func copy() -> Quantizer {
        let q = try! LogQuantizer(bits: bits, variant: variant, percentiles: percentiles)
        q.delta = delta; q.logRange = logRange; q.isCalibrated = isCalibrated
        return q
    }
    public func reset() { isCalibrated = false }

    /// Sets Δ directly (log√2; tests and teaching).
    public func set(delta d: Float) throws {
        guard variant == .sqrt2, d > 0, d.isFinite else { throw QuantError.argument("set(delta:): needs a log√2 quantizer and Δ > 0, got \(d)") }
        delta = d; isCalibrated = true
    }

    // MARK: log√2

    /// 2^{-k/2}·… thresholds: round(−2·log2(m)) for a mantissa m ∈ [1, 2) is 0 below 2^0.25,
    /// 1 below 2^0.75, else 2. As 23-bit mantissa fields (exact: the thresholds are irrational).
    static let t1 = UInt32(((Foundation.pow(2.0, 0.25) - 1) * 8_388_608).rounded(.up))
    static let t3 = UInt32(((Foundation.pow(2.0, 0.75) - 1) * 8_388_608).rounded(.up))

    /// round(−2·log2(y)) for y > 0 from the float's exponent and mantissa (no libm call);
    /// `Int.max` for y ≤ 0 or NaN (those map to the zero level).
    @inline(__always)
    static func sqrt2Level(_ y: Float) -> Int {
        guard y > 0 else { return Int.max }
        if y == .infinity { return Int.min }
        let bits = y.bitPattern
        let e = Int((bits >> 23) & 0xff)
        if e == 0 {
            // Subnormal: fall back to the exact exponent/significand split.
            let m = y.significand, ex = Int(y.exponent)
            let k = Double(m) < 1.189_207_115_002_721 ? 0 : (Double(m) < 1.681_792_830_507_429 ? 1 : 2)
            return -2 * ex - k
        }
        let frac = bits & 0x7f_ffff
        let k = frac < t1 ? 0 : (frac < t3 ? 1 : 2)
        return -2 * (e - 127) - k
    }

    /// 2^(−⌈q/2⌉)·(1 + (√2 − 1)·(q mod 2)) for q in 0…2^b − 1.
    static func sqrt2Table(_ bits: Int) -> [Float] {
        (0..<(1 << bits)).map { (q: Int) -> Float in
            let power: Double = Foundation.pow(2.0, -Double((q + 1) / 2))
            let odd: Double = q % 2 == 1 ? 2.0.squareRoot() : 1
            return Float(power * odd)
        }
    }

    /// log√2 fake quantization of a raw buffer (for calibration error and the op).
    static func sqrt2Quant(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ r: Range<Int>, delta: Float,
                           table: UnsafePointer<Float>, levels: Int, mask: UnsafeMutablePointer<UInt8>?) {
        let t1 = Int32(LogQuantizer.t1), t3 = Int32(LogQuantizer.t3), nl = Int32(levels)
        for i in r {
            let v = x[i] / delta
            let bits = v.bitPattern
            let e = Int32(bitPattern: (bits >> 23) & 0xff), frac = Int32(bitPattern: bits & 0x7f_ffff)
            // Fast path for normal positive floats; zero, negatives and NaN go to the zero level.
            var l = -2 * (e - 127) - (frac < t1 ? 0 : (frac < t3 ? 1 : 2))
            if !(v > 0) { l = nl } else if e == 0 { l = Int32(clamping: sqrt2Level(v)) }
            let zero = l >= nl
            let q = Int(Swift.min(Swift.max(l, 0), nl - 1))
            y[i] = zero ? 0 : table[q] * delta
            mask?[i] = !zero && l >= 0 ? 1 : 0
        }
    }

    // MARK: calibration

    public func calibrate(_ x: Tensor, site: String) throws {
        guard x.count > 0 else { throw QuantError.calibration(site: site, message: "empty tensor") }
        let n = x.count
        if x.buffer.contains(where: { !$0.isFinite }) {
            throw QuantError.calibration(site: site, message: "the data contains NaN or infinity")
        }
        let out = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { out.deallocate() }
        func mse() -> Double {
            var total = 0.0
            for i in 0..<n { let e = Double(out[i] - x.ptr[i]); total += e * e }
            return total / Double(n)
        }
        switch variant {
        case .sqrt2:
            let sorted = x.array.sorted()
            let table = levelValues
            var best = Double.infinity, bestDelta = sorted.last!
            for p in percentiles {
                let d = Tensor.quantileSorted(sorted, p)
                guard d > 0 else { continue }
                table.withUnsafeBufferPointer { t in
                    Parallel.forRange(n) { r in LogQuantizer.sqrt2Quant(x.ptr, out, r, delta: d, table: t.baseAddress!, levels: 1 << bits, mask: nil) }
                }
                let e = mse()
                if e < best { best = e; bestDelta = d }
            }
            guard bestDelta > 0 else { throw QuantError.calibration(site: site, message: "all values are ≤ 0: not attention probabilities?") }
            delta = bestDelta
        case .shiftUniformLog2:
            var best = Double.infinity
            for eta in LogQuantizer.sulqShifts {
                guard let range = LogQuantizer.logRange(x.ptr, n, eta) else { continue }
                LogQuantizer.sulqQuant(x.ptr, out, 0..<n, eta: eta, range: range, bits: bits, mask: nil)
                let e = mse()
                if e < best { best = e; delta = eta; logRange = range }
            }
            guard best.isFinite else { throw QuantError.calibration(site: site, message: "values must be > −1 for SULQ") }
        }
        isCalibrated = true
    }

    // MARK: SULQ

    /// [min, max] of log2(x + η); nil when some x + η ≤ 0.
    static func logRange(_ x: UnsafePointer<Float>, _ n: Int, _ eta: Float) -> (Float, Float)? {
        var lo = Float.infinity, hi = -Float.infinity
        for i in 0..<n { lo = Swift.min(lo, x[i]); hi = Swift.max(hi, x[i]) }
        guard lo + eta > 0 else { return nil }
        return (Foundation.log2(lo + eta), Foundation.log2(hi + eta))
    }

    /// SULQ fake quantization over r, in chunks through the vector log/exp.
    static func sulqQuant(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ r: Range<Int>, eta: Float,
                          range: (Float, Float), bits: Int, mask: UnsafeMutablePointer<UInt8>?) {
        let levels = Float((1 << bits) - 1)
        let s = Swift.max((range.1 - range.0) / levels, 1e-12)
        let ln2: Float = 0.693_147_18
        var tmp = [Float](repeating: 0, count: 1024)
        var start = r.lowerBound
        while start < r.upperBound {
            let len = Swift.min(1024, r.upperBound - start)
            for j in 0..<len { tmp[j] = x[start + j] + eta }
            ck_log(tmp, &tmp, len)
            for j in 0..<len {
                let l = tmp[j] / ln2
                let raw = roundEven((l - range.0) / s)
                let q = Swift.min(Swift.max(raw, 0), levels)
                mask?[start + j] = raw >= 0 && raw <= levels ? 1 : 0
                tmp[j] = (q * s + range.0) * ln2
            }
            ck_exp(tmp, &tmp, len)
            for j in 0..<len { y[start + j] = tmp[j] - eta }
            start += len
        }
    }

    // MARK: forward

    public func fakeQuant(_ x: Tensor) throws -> Tensor {
        guard isCalibrated else { throw QuantError.notCalibrated(site: "(\(scheme) \(bits)-bit)") }
        let (b, d, range) = (bits, delta, logRange)
        switch variant {
        case .sqrt2:
            let table = levelValues
            return table.withUnsafeBufferPointer { t in
                Tensor.fakeQuantOp(x, name: "fake_quant_log_sqrt2") { r, xp, yp, m in
                    LogQuantizer.sqrt2Quant(xp, yp, r, delta: d, table: t.baseAddress!, levels: 1 << b, mask: m)
                }
            }
        case .shiftUniformLog2:
            return Tensor.fakeQuantOp(x, name: "fake_quant_sulq") { r, xp, yp, m in
                LogQuantizer.sulqQuant(xp, yp, r, eta: d, range: range, bits: b, mask: m)
            }
        }
    }
}
