import Foundation
import Tensor
import Models

/// One quantizer of a quantized model, as listed by `quant_report`.
public struct QuantizerReport: Sendable {
    public let site: String
    public let role: SiteRole
    public let scheme: String
    public let granularity: Granularity
    public let bits: Int
    /// Mean scale over channels (Δ; for SULQ the shift η), with the range for per-channel sites.
    public let scale: Float, scaleMin: Float, scaleMax: Float
    public let channels: Int
    /// Mean zero point (nil for log quantizers).
    public let zeroPoint: Float?
    /// Error of x̂ against x on the calibration images: mean squared error and ‖x̂ − x‖/‖x‖.
    public let mse: Double, relativeError: Double
}

extension QuantizedModel {
    /// Lists every quantizer in forward order with its parameters and its error on `images`
    /// (default: the calibration images), measured in one quantized forward.
    /// Sites the backend leaves in float (minmax: attention probabilities) are listed as "float".
    public func report(images: Tensor? = nil) throws -> [QuantizerReport] {
        guard let x = images ?? calibrationImages else { throw QuantError.argument("report: the model is not calibrated") }
        let oldMode = hooks.mode
        hooks.mode = .quantize; hooks.measuring = true; hooks.resetStats()
        defer { hooks.measuring = false; hooks.mode = oldMode }
        _ = try noGrad { try model.forward(x, capture: [], hooks: hooks) }
        return hooks.order.map { site in
            let role: SiteRole = site.hasSuffix(".weight") ? .weight : (site.hasSuffix(".input") ? .input : .operand)
            guard let q = hooks.quantizers[site] else {
                return QuantizerReport(site: site, role: role, scheme: "float", granularity: .tensor, bits: 32, scale: 0, scaleMin: 0,
                                       scaleMax: 0, channels: 0, zeroPoint: nil, mse: 0, relativeError: 0)
            }
            let s = q.scales, z = q.zeroPoints
            let st = hooks.stats[site] ?? QuantHooks.ErrorStats()
            return QuantizerReport(site: site, role: role, scheme: q.scheme, granularity: q.granularity, bits: q.bits,
                                   scale: s.reduce(0, +) / Float(Swift.max(s.count, 1)), scaleMin: s.min() ?? 0, scaleMax: s.max() ?? 0,
                                   channels: s.count, zeroPoint: z.isEmpty ? nil : z.reduce(0, +) / Float(z.count),
                                   mse: st.mse, relativeError: st.relativeError)
        }
    }

    /// The report as a Markdown table.
    public func reportTable(images: Tensor? = nil) throws -> String {
        var lines = ["| site | scheme | bits | per | scale | zero point | MSE | rel. error |", "|---|---|---|---|---|---|---|---|"]
        for r in try report(images: images) {
            if r.scheme == "float" { lines.append("| \(r.site) | float | 32 | – | – | – | 0 | 0 |"); continue }
            let scale = r.channels > 1 ? "\(formatFloat(r.scale)) (\(formatFloat(r.scaleMin))…\(formatFloat(r.scaleMax)))" : formatFloat(r.scale)
            let per = r.granularity == .tensor ? "tensor" : "\(r.granularity.rawValue) ×\(r.channels)"
            lines.append("| \(r.site) | \(r.scheme) | \(r.bits) | \(per) | \(scale) | \(r.zeroPoint.map { formatFloat($0) } ?? "–") | "
                         + String(format: "%.3g | %.3g |", r.mse, r.relativeError))
        }
        return lines.joined(separator: "\n")
    }
}
