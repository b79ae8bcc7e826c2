import Datasets
import Foundation
import Script
import Tensor

/// One parser under fuzzing: bytes in, and either a value or a typed error out. A crash, a trap,
/// a hang or an untyped error is a finding. The harnesses never run a program (a fuzzed recipe
/// could ask for an hour of synthesis); they parse, validate and decode.
public struct FuzzHarness: Sendable {
    public let name: String
    public let summary: String
    /// The repository's files that seed this harness (folders are listed, files ending in `extensions`).
    public let seedPaths: [String]
    public let extensions: [String]
    /// Small valid inputs made in code, for formats the repository has no small files of.
    public let madeSeeds: @Sendable () -> [[UInt8]]
    /// Runs one input. Returns a short description of a finding, or nil.
    public let run: @Sendable ([UInt8]) -> String?

    /// The harnesses by name: `script`, `safetensors`, `idx`, `image`.
    public static let all: [FuzzHarness] = [script, safetensors, idx, image]

    public static func named(_ name: String) -> FuzzHarness? { all.first { $0.name == name } }

    /// The harness libFuzzer's C callback runs (set once before the driver starts).
    nonisolated(unsafe) public static var current: FuzzHarness?

    /// Lexer, parser and resolver (`sardfq check` without the file system), diagnostics rendered.
    static let script = FuzzHarness(
        name: "script", summary: "lexer, parser and name resolver of the recipe language",
        seedPaths: ["recipes", "Tests/ScriptTests/Corpus"], extensions: ["dfq"], madeSeeds: { [] },
        run: { bytes in
            do {
                let file = try SourceFile.decode(name: "fuzz.dfq", bytes: bytes)
                for d in Resolver.check(source: file) {
                    if let bad = badDiagnostic(d) { return bad }
                }
            } catch let d as Diagnostic {
                return badDiagnostic(d)
            } catch {
                return "untyped error: \(error)"
            }
            return nil
        })

    /// A diagnostic must have a position and a bounded rendering.
    static func badDiagnostic(_ d: Diagnostic) -> String? {
        if d.pos.line < 1 || d.pos.col < 1 { return "diagnostic without a position: \(d.header.prefix(200))" }
        if d.description.count > 4000 { return "a \(d.description.count)-character diagnostic: \(d.header.prefix(200))" }
        return nil
    }

    /// The safetensors header parser and tensor decoding (`Safetensors.decode`).
    static let safetensors = FuzzHarness(
        name: "safetensors", summary: "safetensors header parser and tensor decoder",
        seedPaths: ["Tests/SynthesisTests/Fixtures/damaged"], extensions: ["safetensors"],
        madeSeeds: {
            guard let a = try? Tensor(shape: [2, 2], [1, 2, 3, 4]), let b = try? Tensor(shape: [1], [0.5]),
                  let data = try? Safetensors.encode(tensors: [("a", a), ("b.c", b)], metadata: ["format": "pt"]) else { return [] }
            return [[UInt8](data)]
        },
        run: { bytes in
            do { _ = try Safetensors.decode(Data(bytes), file: "fuzz.safetensors") } catch is SafetensorsError {} catch {
                return "untyped error: \(error)"
            }
            return nil
        })

    /// Whether our safetensors reader accepts `bytes`: nil when it does, else its error. For the
    /// differential check against the reference implementation (tools/safetensors_differential.py).
    public static func safetensorsVerdict(_ bytes: [UInt8]) -> String? {
        do { _ = try Safetensors.decode(Data(bytes), file: "input"); return nil } catch { return "\(error)" }
    }

    /// The IDX parser (Fashion-MNIST's format), on uncompressed bytes.
    static let idx = FuzzHarness(
        name: "idx", summary: "IDX array parser (Fashion-MNIST's file format)",
        seedPaths: [], extensions: [],
        madeSeeds: {
            let images: [UInt8] = [0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3] + (0..<12).map { UInt8($0 * 20) }
            let labels: [UInt8] = [0, 0, 0x08, 1, 0, 0, 0, 4, 7, 2, 1, 0]
            return [images, labels]
        },
        run: { bytes in
            do { _ = try IDXArray(bytes: bytes, path: "fuzz.idx") } catch is DatasetError {} catch {
                return "untyped error: \(error)"
            }
            return nil
        })

    /// The PNG and JPEG decoders (libpng and libjpeg behind `RGBImage.decode`), with size limits
    /// small enough that a fuzzed header cannot make one input allocate more than 12 MB.
    static let image = FuzzHarness(
        name: "image", summary: "PNG and JPEG decoders",
        seedPaths: ["Tests/DatasetsTests/Fixtures"], extensions: ["png", "jpg"], madeSeeds: { [] },
        run: { bytes in
            do { _ = try RGBImage.decode(bytes: bytes, path: "fuzz.img", maxSide: 4096, maxPixels: 1 << 22) } catch is DatasetError {} catch {
                return "untyped error: \(error)"
            }
            return nil
        })

    /// The seed inputs: the repository's files under `seedPaths` (relative to `root`, at most 64 kB
    /// each, sorted by path so the order is reproducible) and the made ones.
    public func seeds(root: URL) -> [[UInt8]] {
        var files: [URL] = []
        let fm = FileManager.default
        for p in seedPaths {
            let dir = root.appendingPathComponent(p)
            guard let names = try? fm.contentsOfDirectory(atPath: dir.path) else { continue }
            for n in names.sorted() where extensions.contains(where: { n.hasSuffix("." + $0) }) {
                files.append(dir.appendingPathComponent(n))
            }
        }
        var out: [[UInt8]] = []
        for f in files {
            if let d = try? Data(contentsOf: f), d.count <= 65_536 { out.append([UInt8](d)) }
        }
        return out + madeSeeds()
    }
}
