import Tensor

/// Errors of the quantization backend; each names the quantizer site or the argument involved.
public enum QuantError: Error, CustomStringConvertible {
    case argument(String)
    /// Calibration images of the wrong shape; `argument` names which (`calib`, `swap_calib`).
    case images(argument: String, message: String)
    case calibration(site: String, message: String)
    case notCalibrated(site: String)

    public var description: String {
        switch self {
        case .argument(let m): return "quantize: \(m)"
        case let .images(argument, m): return "quantize: \(argument): \(m)"
        case let .calibration(site, m): return "quantizer \(site): cannot calibrate: \(m)"
        case .notCalibrated(let site):
            return "quantizer \(site) is not calibrated: run a calibration forward first (QuantizedModel.calibrate)"
        }
    }
}

/// How a quantizer groups values that share one (scale, zero point).
public enum Granularity: String, Sendable, Codable {
    /// One scale for the whole tensor.
    case tensor
    /// One scale per slice along the first axis: weights per output row (linear (out, in),
    /// patch-embedding conv (out, C, P, P)).
    case rows
    /// One scale per entry of the last axis: activations per channel, (…, C).
    case lastAxis
}

/// A fake quantizer: `x → x̂` (quantize then dequantize, in Float32), with a straight-through
/// gradient so reconstruction can train through it. Each has a fitted range (`calibrate`) and
/// is frozen afterwards: calling it never changes its parameters.
public protocol Quantizer: AnyObject {
    /// Bit width (2…8).
    var bits: Int { get }
    /// Short name of the scheme, e.g. "uniform", "log√2".
    var scheme: String { get }
    var granularity: Granularity { get }
    var isCalibrated: Bool { get }
    /// Fits the quantization parameters on `x` (the whole calibration tensor seen at this site).
    /// Throws `QuantError.calibration` for empty or non-finite data; `site` names it in errors.
    func calibrate(_ x: Tensor, site: String) throws
    /// Fake quantization x → x̂, same shape; gradient passes straight through inside the range
    /// (zero where values were clamped or mapped to the zero level).
    func fakeQuant(_ x: Tensor) throws -> Tensor
    /// Scales (one per channel, or one), for reports.
    var scales: [Float] { get }
    /// Zero points (one per channel, or one), for reports; empty for log quantizers.
    var zeroPoints: [Float] { get }
    /// A deep copy (with its fitted parameters).
    func copy() -> Quantizer
    /// Forgets the fitted range (the next calibration forward fits it again).
    func reset()
}

extension Quantizer {
    /// One line: `uniform 4-bit per rows, scale 0.0123 (mean of 64), zero 8`.
    public var summary: String {
        guard isCalibrated else { return "\(scheme) \(bits)-bit per \(granularity.rawValue), not calibrated" }
        func stat(_ v: [Float]) -> String {
            if v.count == 1 { return formatFloat(v[0]) }
            let m = v.reduce(0, +) / Float(v.count)
            return "\(formatFloat(m)) (mean of \(v.count), \(formatFloat(v.min()!))…\(formatFloat(v.max()!)))"
        }
        var s = "\(scheme) \(bits)-bit per \(granularity.rawValue), scale \(stat(scales))"
        if !zeroPoints.isEmpty { s += ", zero \(stat(zeroPoints))" }
        return s
    }
}

/// Checks a bit width argument (2…8).
func checkBits(_ bits: Int, _ what: String) throws {
    guard (2...8).contains(bits) else {
        throw QuantError.argument("\(what) bit width must be 2…8, got \(bits)")
    }
}

extension Tensor {
    /// Elementwise fake-quantization op with a masked straight-through gradient.
    /// The work is split in units of `unit` consecutive elements (one row of a per-row or
    /// per-channel quantizer, so inner loops are contiguous and vectorize).
    /// `kernel(units, x, y, pass)` fills `y` for the elements of those units and, when `pass` is
    /// non-nil, `pass[i] = 1` where the gradient goes through (value inside the quantization
    /// range), else 0. Output has the input's shape; the VJP is `dx = g · pass`.
    static func fakeQuantOp(_ x: Tensor, name: String, unit: Int = 1,
                            _ kernel: (Range<Int>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<UInt8>?) -> Void) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let n = x.count, unit = Swift.max(unit, 1)
        let needs = GradMode.enabled && x.requiresGrad
        let mask: UnsafeMutablePointer<UInt8>? = needs ? .allocate(capacity: Swift.max(n, 1)) : nil
        let xp = UnsafePointer(x.ptr), yp = out.ptr
        Parallel.forRange(n / unit, grain: Swift.max(1, 32768 / unit)) { r in kernel(r, xp, yp, mask) }
        guard let mask else { return out.record(name, [x]) { _ in } }
        let box = MaskBox(mask)
        return out.record(name, [x]) { [x, box] g in
            guard x.requiresGrad else { return }
            let dx = x.gradBuffer(), m = box.ptr
            Parallel.forRange(n, grain: 1 << 15) { r in for i in r where m[i] != 0 { dx[i] += g[i] } }
        }
    }
}

/// Round half to even without a libm call (the default build targets x86-64 without SSE4.1,
/// where `rounded(.toNearestOrEven)` becomes a function call per element): adding and removing
/// 1.5·2^23 rounds in the current (nearest-even) mode. Exact for |v| ≤ 2^22; larger inputs are
/// first clamped to ±2^22, which every caller clamps to at most 2^8 levels anyway.
@inline(__always)
func roundEven(_ v: Float) -> Float {
    let c = Swift.min(Swift.max(v, -4_194_304), 4_194_304)
    return (c + 12_582_912) - 12_582_912
}

/// Owns a pass-mask buffer for as long as the tape keeps the backward closure.
final class MaskBox {
    let ptr: UnsafeMutablePointer<UInt8>
    init(_ p: UnsafeMutablePointer<UInt8>) { ptr = p }
    deinit { ptr.deallocate() }
}
