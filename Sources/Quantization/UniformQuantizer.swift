import Dispatch
import Tensor

/// How a uniform quantizer chooses its clipping range during calibration.
public enum RangeSearch: Sendable, Equatable {
    /// RepQ-ViT's search: for each `pct`, the range [quantile(1 − pct), quantile(pct)]
    /// (linear interpolation, as `torch.quantile`); keep the one with the lowest mean squared
    /// error of x̂ against x. Asymmetric levels 0…2^b − 1, zero point z = round(−min/Δ)
    /// (not clamped, as in RepQ-ViT).
    case percentileMSE([Double])
    /// The plain [min, max] of the calibration data (PSAQ-ViT's activations): asymmetric,
    /// zero point clamped to 0…2^b − 1. One calibration forward over all images, so it equals
    /// PSAQ-ViT's running min-max over that batch.
    case minMax
    /// Symmetric (PSAQ-ViT's weights): Δ = 2·max|x|/(2^b − 1), z = 0, levels −2^(b−1)…2^(b−1) − 1.
    case symmetricMinMax

    /// RepQ-ViT's percentile set.
    public static let repq = RangeSearch.percentileMSE([0.999, 0.9999, 0.99999])
}

/// Uniform quantizer x_q = clamp(round(x/Δ) + z, qmin, qmax), x̂ = (x_q − z)·Δ, per tensor,
/// per output row (weights) or per last-axis channel (activations).
/// Rounding is half to even (`torch.round`). The gradient of `fakeQuant` is the straight-through
/// estimator masked to the unclamped values (∂x̂/∂x = 1 where qmin ≤ round(x/Δ) + z ≤ qmax).
public final class UniformQuantizer: Quantizer {
    public let bits: Int
    public let granularity: Granularity
    public let search: RangeSearch
    public private(set) var scales: [Float] = []
    public private(set) var zeroPoints: [Float] = []
    /// Integer level range: 0…2^b − 1 (asymmetric) or −2^(b−1)…2^(b−1) − 1 (symmetric).
    public let qmin: Float, qmax: Float

    public init(bits: Int, granularity: Granularity = .tensor, search: RangeSearch = .repq) throws {
        try checkBits(bits, "uniform quantizer")
        if case .percentileMSE(let pcts) = search {
            guard !pcts.isEmpty, pcts.allSatisfy({ $0 > 0.5 && $0 <= 1 }) else {
                throw QuantError.argument("percentiles must be in (0.5, 1], got \(pcts)")
            }
        }
        self.bits = bits; self.granularity = granularity; self.search = search
        if search == .symmetricMinMax {
            qmin = -Float(1 << (bits - 1)); qmax = Float(1 << (bits - 1)) - 1
        } else {
            qmin = 0; qmax = Float((1 << bits) - 1)
        }
    }

    public var scheme: String { search == .symmetricMinMax ? "symmetric" : "uniform" }
    public var isCalibrated: Bool { !scales.isEmpty }

    public func copy() -> Quantizer {
        let q = try! UniformQuantizer(bits: bits, granularity: granularity, search: search)
        q.scales = scales; q.zeroPoints = zeroPoints
        return q
    }

    public func reset() { scales = []; zeroPoints = [] }

    /// Sets the parameters directly (the RepQ fold, tests). One entry for `.tensor`, one per
    /// channel otherwise. Zero points may be fractional (RepQ's averaged z̃).
    public func set(scales s: [Float], zeroPoints z: [Float]) throws {
        guard s.count == z.count, !s.isEmpty, granularity != .tensor || s.count == 1 else {
            throw QuantError.argument("set: \(s.count) scales and \(z.count) zero points for a per-\(granularity.rawValue) quantizer")
        }
        guard s.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw QuantError.argument("set: scales must be positive and finite") }
        scales = s; zeroPoints = z
    }

    /// Number of channels and how element i maps to its channel, for a tensor of this shape.
    func layout(_ shape: [Int]) -> (channels: Int, inner: Int) {
        switch granularity {
        case .tensor: return (1, shape.reduce(1, *))
        case .rows: return (shape.first ?? 1, shape.dropFirst().reduce(1, *))
        case .lastAxis: return (shape.last ?? 1, 1)
        }
    }

    public func calibrate(_ x: Tensor, site: String) throws {
        guard x.count > 0 else { throw QuantError.calibration(site: site, message: "empty tensor \(shapeString(x.shape))") }
        let (channels, inner) = layout(x.shape)
        let per = x.count / channels
        var s = [Float](repeating: 0, count: channels), z = [Float](repeating: 0, count: channels)
        var finite = [Bool](repeating: true, count: channels)
        let src = UnsafePointer(x.ptr), strided = granularity == .lastAxis
        s.withUnsafeMutableBufferPointer { sp in z.withUnsafeMutableBufferPointer { zp in finite.withUnsafeMutableBufferPointer { fp in
            // Channels in parallel; each gathers its values into a private buffer (sorted in place).
            Parallel.forEach(channels) { c in
                let buf = UnsafeMutableBufferPointer<Float>.allocate(capacity: per)
                defer { buf.deallocate() }
                if strided { for j in 0..<per { buf[j] = src[j * channels + c] } }
                else { buf.baseAddress!.update(from: src + c * inner, count: per) }
                if buf.contains(where: { !$0.isFinite }) { fp[c] = false; return }
                (sp[c], zp[c]) = self.fit(buf)
            }
        } } }
        if let bad = finite.firstIndex(of: false) {
            throw QuantError.calibration(site: site, message: "the data contains NaN or infinity" + (channels > 1 ? " (channel \(bad))" : ""))
        }
        scales = s; zeroPoints = z
    }

    /// Scale and zero point for one group of values (the buffer may be reordered).
    func fit(_ buf: UnsafeMutableBufferPointer<Float>) -> (Float, Float) {
        let levels = Float((1 << bits) - 1)
        switch search {
        case .symmetricMinMax:
            var m: Float = 0
            for v in buf { m = Swift.max(m, Swift.abs(v)) }
            return (Swift.max(2 * m / levels, Float.ulpOfOne), 0)
        case .minMax:
            var lo = Float.infinity, hi = -Float.infinity
            for v in buf { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
            // The same zero-width widening as the searched ranges: a constant c maps to itself.
            return UniformQuantizer.rangeToScale(lo, hi, levels: levels)
        case .percentileMSE(let pcts):
            var buf = buf
            buf.sort()
            var best: (Float, Float) = (1, 0), bestErr = Float.infinity
            for p in pcts {
                let hi = UniformQuantizer.quantileSorted(buf, p), lo = UniformQuantizer.quantileSorted(buf, 1 - p)
                let (d, z) = UniformQuantizer.rangeToScale(lo, hi, levels: levels)
                let err = UniformQuantizer.meanSquaredError(UnsafeBufferPointer(buf), d, z, qmin, qmax)
                if err < bestErr { bestErr = err; best = (d, z) }
            }
            return best
        }
    }

    /// Δ = (max − min)/(2^b − 1), z = round(−min/Δ). A zero-width range is widened to include 0
    /// (a constant c becomes the range [0, c]); an all-zero group gets Δ = 1.
    static func rangeToScale(_ lo: Float, _ hi: Float, levels: Float) -> (Float, Float) {
        var lo = lo, hi = hi
        if !(hi - lo > Swift.max(Swift.abs(hi), Swift.abs(lo)) * 1e-6) { lo = Swift.min(lo, 0); hi = Swift.max(hi, 0) }
        if hi - lo <= 0 { return (1, 0) }
        let d = (hi - lo) / levels
        return (d, (-lo / d).rounded(.toNearestOrEven))
    }

    /// The q-quantile of sorted values with linear interpolation (torch.quantile's default).
    static func quantileSorted(_ s: UnsafeMutableBufferPointer<Float>, _ q: Double) -> Float {
        let pos = q * Double(s.count - 1)
        let lo = Int(pos.rounded(.down)), hi = Swift.min(lo + 1, s.count - 1)
        return s[lo] + (s[hi] - s[lo]) * Float(pos - Double(lo))
    }

    @inline(__always)
    static func level(_ v: Float, _ d: Float, _ z: Float) -> Float { roundEven(v / d) + z }

    /// Mean of (x̂ − x)² over a group, split over workers for large groups.
    static func meanSquaredError(_ buf: UnsafeBufferPointer<Float>, _ d: Float, _ z: Float, _ lo: Float, _ hi: Float) -> Float {
        let n = buf.count, p = buf.baseAddress!
        func part(_ r: Range<Int>) -> Double {
            var acc: Float = 0, total: Double = 0
            for (k, i) in r.enumerated() {
                let q = Swift.min(Swift.max(level(p[i], d, z), lo), hi)
                let e = (q - z) * d - p[i]
                acc += e * e
                if k & 4095 == 4095 { total += Double(acc); acc = 0 }
            }
            return total + Double(acc)
        }
        let chunks = Swift.min(Parallel.workers, n / 65536)
        if chunks <= 1 { return Float(part(0..<n) / Double(Swift.max(n, 1))) }
        var partial = [Double](repeating: 0, count: chunks)
        partial.withUnsafeMutableBufferPointer { pp in
            let out = pp.baseAddress!
            Parallel.forEach(chunks) { c in out[c] = part((n * c / chunks)..<(n * (c + 1) / chunks)) }
        }
        return Float(partial.reduce(0, +) / Double(n))
    }

    public func fakeQuant(_ x: Tensor) throws -> Tensor {
        guard isCalibrated else { throw QuantError.notCalibrated(site: "(uniform \(bits)-bit)") }
        let (channels, inner) = layout(x.shape)
        guard channels == scales.count || scales.count == 1 && granularity == .tensor else {
            throw QuantError.argument("a per-\(granularity.rawValue) quantizer fitted on \(scales.count) channels got shape \(shapeString(x.shape))")
        }
        let lo = qmin, hi = qmax
        // One unit = one group of elements sharing a scale (tensor: single elements; rows: one
        // row; last axis: one row of C channels, each with its own scale).
        let unit = granularity == .tensor ? 1 : (granularity == .rows ? inner : channels)
        let perRow = granularity == .rows
        return scales.withUnsafeBufferPointer { s in zeroPoints.withUnsafeBufferPointer { z in
            Tensor.fakeQuantOp(x, name: "fake_quant_uniform", unit: unit) { units, xp, yp, m in
                let sp = s.baseAddress!, zp = z.baseAddress!
                if unit == 1 && !perRow {  // one scale for every element (rows of one element each have their own)
                    let b = units.lowerBound
                    UniformQuantizer.kernel(xp + b, yp + b, m.map { $0 + b }, units.count, sp, zp, stride: 0, lo, hi)
                    return
                }
                for u in units {
                    let base = u * unit
                    if perRow {
                        UniformQuantizer.kernel(xp + base, yp + base, m.map { $0 + base }, unit, sp + u, zp + u, stride: 0, lo, hi)
                    } else {
                        UniformQuantizer.kernel(xp + base, yp + base, m.map { $0 + base }, unit, sp, zp, stride: 1, lo, hi)
                    }
                }
            }
        } }
    }

    /// y = (clamp(round(x/Δ) + z, lo, hi) − z)·Δ over n elements; Δ, z advance by `stride` per
    /// element (0: one group, 1: one per channel).
    @inline(__always)
    static func kernel(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<UInt8>?, _ n: Int,
                       _ s: UnsafePointer<Float>, _ z: UnsafePointer<Float>, stride: Int, _ lo: Float, _ hi: Float) {
        if stride == 0 {
            let d = s[0], zz = z[0]
            if let m {
                for i in 0..<n {
                    let raw = level(x[i], d, zz)
                    y[i] = (Swift.min(Swift.max(raw, lo), hi) - zz) * d
                    m[i] = raw >= lo && raw <= hi ? 1 : 0
                }
            } else {
                for i in 0..<n { y[i] = (Swift.min(Swift.max(level(x[i], d, zz), lo), hi) - zz) * d }
            }
        } else {
            if let m {
                for i in 0..<n {
                    let raw = level(x[i], s[i], z[i])
                    y[i] = (Swift.min(Swift.max(raw, lo), hi) - z[i]) * s[i]
                    m[i] = raw >= lo && raw <= hi ? 1 : 0
                }
            } else {
                for i in 0..<n { y[i] = (Swift.min(Swift.max(level(x[i], s[i], z[i]), lo), hi) - z[i]) * s[i] }
            }
        }
    }
}
