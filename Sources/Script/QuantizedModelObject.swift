import Foundation
import Tensor
import Models
import Quantization

/// A script value that carries a vision model. The model area's `ModelObject` conforms, and so
/// does `QuantizedModelObject`, so any builtin that takes a model also takes a quantized one.
public protocol ScriptVisionModel: ScriptObject {
    var visionModel: VisionModel { get }
}

/// A quantized model in the language (`quantize(net, w: 4, a: 4, calib: imgs)`).
public final class QuantizedModelObject: ScriptVisionModel {
    public let quantized: QuantizedModel
    public let source: String
    public init(_ q: QuantizedModel, source: String) { quantized = q; self.source = source }

    public var visionModel: VisionModel { quantized }
    public var typeName: String { "quantized model" }
    public var memberNames: [String] {
        ["w", "a", "backend", "quantizers", "folds", "calibration_time", "reconstruction_time", "reconstruction", "enabled", "execute"]
    }

    public func member(_ name: String) throws -> Value? {
        let q = quantized
        switch name {
        case "w": return .int(q.config.weightBits)
        case "a": return .int(q.config.activationBits)
        case "backend": return .string(q.config.backend.rawValue)
        case "quantizers": return .int(q.hooks.quantizers.count)
        case "folds": return .int(q.folds.count)
        case "calibration_time": return .number(q.calibrationSeconds)
        case "reconstruction_time": return .number(q.reconstructionSeconds)
        case "reconstruction":
            return .list(q.reconstruction.map { r in
                .record(RecordRef([("block", .string(r.block)), ("before", .number(Double(r.before))), ("after", .number(Double(r.after)))]))
            })
        case "enabled": return .bool(q.isEnabled)
        case "execute": return .string(q.hooks.execution.rawValue)
        default: return nil
        }
    }

    public var description: String {
        let q = quantized
        let n = q.calibrationImages?.shape[0] ?? 0
        var s = "quantized model \(q.config.label) of \(source): \(q.hooks.quantizers.count) quantizers, \(q.folds.count) RepQ folds, "
            + "calibrated on \(n) images in \(String(format: "%.2f", q.calibrationSeconds)) s"
        if !q.reconstruction.isEmpty { s += ", reconstructed \(q.reconstruction.count) blocks in \(String(format: "%.1f", q.reconstructionSeconds)) s" }
        return s + (q.hooks.execution == .int8 ? "; runs in integer products" : "; runs in fake quantization")
    }
}
