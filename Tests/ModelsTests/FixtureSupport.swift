import Foundation
import Testing
@testable import Models
import Tensor

/// A timm fixture made by tools/make_fixtures.py (format in tools/README.md).
struct Fixture {
    let name: String
    let file: SafetensorsFile
    let config: [String: Any]

    init(_ name: String) throws {
        let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "safetensors")!
        self.name = name
        file = try Safetensors.read(path: url.path)
        config = try JSONSerialization.jsonObject(with: Data(file.metadata["config"]!.utf8)) as! [String: Any]
    }

    subscript(_ key: String) -> Tensor? { file[key] }
    var stateDict: [(String, Tensor)] { file.tensors.filter { !$0.name.hasPrefix("__") }.map { ($0.name, $0.tensor) } }

    /// Our architecture for the fixture's config.
    var architecture: Architecture {
        let ints = { (k: String) in (config[k] as! [Any]).map { ($0 as! NSNumber).intValue } }
        let int = { (k: String) in (config[k] as! NSNumber).intValue }
        let mlp = (config["mlp_ratio"] as! NSNumber).doubleValue
        if config["family"] as! String == "vit" {
            return .vit(ViTConfig(imgSize: ints("img_size"), patchSize: int("patch_size"), inChans: int("in_chans"),
                                  numClasses: int("num_classes"), embedDim: int("embed_dim"), depth: int("depth"),
                                  numHeads: int("num_heads"), mlpRatio: mlp, qkvBias: config["qkv_bias"] as! Bool,
                                  distilled: config["distilled"] as? Bool ?? false))
        }
        return .swin(SwinConfig(imgSize: ints("img_size"), patchSize: int("patch_size"), inChans: int("in_chans"),
                                numClasses: int("num_classes"), embedDim: int("embed_dim"), depths: ints("depths"),
                                numHeads: ints("num_heads"), windowSize: int("window_size"), mlpRatio: mlp,
                                qkvBias: config["qkv_bias"] as! Bool))
    }

    /// timm's key list with shapes, in state-dict order.
    var timmKeys: [(String, [Int])] {
        let list = try! JSONSerialization.jsonObject(with: Data(file.metadata["state_dict_keys"]!.utf8)) as! [[Any]]
        return list.map { ($0[0] as! String, ($0[1] as! [Any]).map { ($0 as! NSNumber).intValue }) }
    }

    /// The model with the fixture's weights: stored ones (random fixtures) or the hash formula.
    func model() throws -> VisionModel {
        let m = ModelFactory.build(architecture)
        if config["weights"] as! String == "formula" {
            let state = timmKeys.enumerated().map { (k, e) in (e.0, FormulaWeights.tensor(key: e.0, shape: e.1, index: k)) }
            try m.params.load(state, file: name, ignoring: SwinTransformer.isComputedBuffer)
        } else {
            try m.params.load(stateDict, file: name, ignoring: SwinTransformer.isComputedBuffer)
        }
        return m
    }

    /// The input batch: stored, or the formula input.
    var input: Tensor {
        if let x = self["__input__"] { return x.copy() }
        let shape = [(config["batch"] as! NSNumber).intValue] + architecture.inputShape
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.ptr[i] = Float(FormulaWeights.r(0, i)) }
        return t
    }
}

/// The deterministic weights of tools/README.md ("Formula weights"), bit for bit.
enum FormulaWeights {
    static func hash(_ s: Int, _ i: Int) -> UInt32 {
        var x = UInt32(truncatingIfNeeded: i) &+ (0x9E37_79B9 &* UInt32(truncatingIfNeeded: s))
        x ^= x >> 16; x = x &* 0x85EB_CA6B
        x ^= x >> 13; x = x &* 0xC2B2_AE35
        x ^= x >> 16
        return x
    }
    static func r(_ s: Int, _ i: Int) -> Double { 2.0 * (Double(hash(s, i)) / 4_294_967_296.0) - 1.0 }

    static func isLayerNormWeight(_ key: String) -> Bool {
        let last = key.split(separator: ".").suffix(2).map(String.init)
        return last.count == 2 && last[1] == "weight" && ["norm", "norm1", "norm2", "fc_norm"].contains(last[0])
    }

    static func tensor(key: String, shape: [Int], index k: Int) -> Tensor {
        let n = shape.reduce(1, *)
        let t = Tensor(uninitialized: shape)
        let s = k + 1
        for i in 0..<n {
            let v: Double
            if isLayerNormWeight(key) { v = 1.0 + 0.2 * r(s, i) }
            else if key.hasSuffix(".weight") && shape.count >= 2 { v = (3.0 / Double(n / shape[0])).squareRoot() * r(s, i) }
            else { v = 0.2 * r(s, i) }
            t.ptr[i] = Float(v)
        }
        return t
    }
}

/// Expects a ≈ b with |a − b| ≤ atol + rtol·max|b|; prints both on mismatch.
func expectClose(_ a: Tensor, _ b: Tensor, atol: Float = 0, rtol: Float, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): \(shapeString(a.shape)) vs \(shapeString(b.shape))", sourceLocation: sourceLocation)
    guard a.count == b.count else { return }
    var scale: Float = 0, err: Float = 0
    for i in 0..<a.count { scale = max(scale, abs(b.ptr[i])); err = max(err, abs(a.ptr[i] - b.ptr[i])) }
    #expect(err <= atol + rtol * scale, "\(what): max |Δ| \(err) > \(atol) + \(rtol)·\(scale)\n\(a.mismatchReport(b))", sourceLocation: sourceLocation)
}
