import Foundation
import Testing
@testable import Synthesis

/// The generator's images and final losses for fixed seeds, as a 64-bit FNV-1a fingerprint of
/// their bit patterns. Recorded before the generator was split into stages (PSE, APA, MSR, SL, TV):
/// a refactor of the stages must leave every configuration bit-identical.
///
/// Why keyed by CPU: the GEMM library picks its kernel and blocking by instruction set and cache
/// size, so the last bits of a float sum differ between CPUs. On the CPU the fingerprints were
/// recorded on they must match; on any other the test checks that two runs agree bit for bit and
/// prints the fingerprints to record.
enum StageFingerprint {
    static func of(_ set: ImageSet) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        for v in set.images.array { let b = v.bitPattern; for k in 0..<4 { mix(UInt8(truncatingIfNeeded: b >> (8 * UInt32(k)))) } }
        for byte in (set.info["final_losses"] ?? "").utf8 { mix(byte) }
        return String(h, radix: 16)
    }

    /// Each configuration: a name, the model family and the options' changes from the default.
    static let configurations: [(String, String, (inout SynthesisOptions) -> Void)] = [
        ("psaq vit", "vit", { $0.method = .psaq }),
        // Swin's configurations pin the τ rule their fingerprints were recorded with (`auto` gives Swin `start`).
        ("psaq swin", "swin", { $0.method = .psaq; $0.tauScaling = .sqrtPixels }),
        ("sardfq vit", "vit", { _ in }),
        ("sardfq swin", "swin", { $0.tauScaling = .sqrtPixels }),
        ("sardfq vit, APA on the moved view", "vit", { $0.apaView = .moved }),
        ("sardfq vit, APA on the augmented view, fixed priors", "vit", { $0.apaView = .fixed }),
        ("sardfq vit, pooled regions", "vit", { $0.regionWeighting = .pooled }),
        ("sardfq vit, MSR every 2nd iteration", "vit", { $0.msrEvery = 2 }),
        ("sardfq vit, literal soft labels", "vit", { $0.softLabelScale = .literal }),
        ("sardfq vit without SL", "vit", { $0.softLabels = false }),
        ("sardfq vit without APA", "vit", { $0.apa = false }),
        ("sardfq vit without MSR", "vit", { $0.msr = false }),
        ("plain CE + TV vit", "vit", { $0.apa = false; $0.msr = false; $0.softLabels = false }),
        ("sardfq vit, CE weight 0.5, no flip", "vit", { $0.ceWeight = 0.5; $0.flip = false }),
    ]

    /// This CPU: model name, cache size and a digest of the feature flags, from /proc/cpuinfo.
    static let cpu: String = {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        func field(_ key: String) -> String {
            info.split(separator: "\n").first { $0.hasPrefix(key) }.map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? ""
        }
        var h: UInt32 = 2_166_136_261
        for b in field("flags").utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
        return "\(field("model name")) / \(field("cache size")) / flags \(String(h, radix: 16))"
    }()

    static let recordedCPU = "Intel(R) Xeon(R) Processor / 266240 KB / flags 3279611c"
    static let recorded: [String: String] = [
        "psaq vit": "a8670443d37b9fe",
        "psaq swin": "9860253d72317dde",
        "sardfq vit": "8f007ae4c809b0b2",
        "sardfq vit, APA on the moved view": "4a6d0e9d572b1e7b",
        "sardfq vit, APA on the augmented view, fixed priors": "5d05d3f3ae5180a8",
        "sardfq vit, pooled regions": "581835b9680430dd",
        "sardfq swin": "24297d68a649aba8",
        "sardfq vit, MSR every 2nd iteration": "916961d7dda8799c",
        "sardfq vit, literal soft labels": "fe23453b8dc32868",
        "sardfq vit without SL": "8f44b3330f1168a0",
        "sardfq vit without MSR": "1702d79c079bf2c2",
        "sardfq vit without APA": "526d7cbb713fcc2e",
        "plain CE + TV vit": "de0905e9c7c7d0a2",
        "sardfq vit, CE weight 0.5, no flip": "edddaa7aaf5ece7b",
    ]
}

@Test(arguments: StageFingerprint.configurations.map(\.0))
func stagesGiveTheRecordedImages(_ name: String) throws {
    let (_, family, change) = try #require(StageFingerprint.configurations.first { $0.0 == name })
    var o = SynthesisOptions()
    o.iterations = 6
    change(&o)
    let model = TinyModels.sharpen(family == "vit" ? TinyModels.vit() : TinyModels.swin())
    let set = try Synthesis.generate(model: model, count: 3, seed: 11, options: o)
    let got = StageFingerprint.of(set)
    if StageFingerprint.cpu == StageFingerprint.recordedCPU {
        #expect(StageFingerprint.recorded[name] == got, "\(name): \(got)")
    } else {
        let again = try Synthesis.generate(model: model, count: 3, seed: 11, options: o)
        #expect(StageFingerprint.of(again) == got, "\(name): two runs differ")
        print("fingerprint on \(StageFingerprint.cpu): \"\(name)\": \"\(got)\",")
    }
}
