// sardfq-fuzz: the fuzz harnesses of docs/fuzzing.md.
//
//   sardfq-fuzz list                              the harnesses
//   sardfq-fuzz HARNESS --seeds DIR               write the seed corpus (repository files + made inputs)
//   sardfq-fuzz HARNESS --replay FILE|DIR…        run saved inputs (a libFuzzer finding reproduces here)
//   sardfq-fuzz HARNESS --mutate N [--seed S]     N deterministic mutations of the seeds, no libFuzzer
//   sardfq-fuzz safetensors --verdict FILE…       "accept" or "refuse: why" per file (for the
//                                                 differential check, tools/safetensors_differential.py)
//
// The `make fuzz` build (-D LIBFUZZER, -sanitize=fuzzer,address) has libFuzzer's main instead:
//   sardfq-fuzz HARNESS [libFuzzer flags] DIR…    coverage-guided fuzzing from the corpus folders
import Foundation
import Fuzz

#if LIBFUZZER
import CFuzz

/// The entry point SwiftPM links as `main` for this executable. The first argument names the
/// harness and is removed, so that libFuzzer's driver sees only its own flags and folders.
@_cdecl("sardfq_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    guard argc >= 2, let first = argv[1], let harness = FuzzHarness.named(String(cString: first)) else {
        fail("usage: sardfq-fuzz HARNESS [libFuzzer flags] CORPUS… (harnesses: \(FuzzHarness.all.map(\.name).joined(separator: ", ")))")
    }
    FuzzHarness.current = harness
    // Warm up on the seeds first: one-time allocations (the builtin tables, Swift's metadata
    // caches) would otherwise look like leaks of the first inputs to LeakSanitizer.
    for s in harness.seeds(root: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) { _ = harness.run(s) }
    for k in 1..<Int(argc) { argv[k] = argv[k + 1] }  // argv[argc] is NULL: it moves down too
    var n = argc - 1
    var v: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    // One input; a finding aborts, so that libFuzzer saves the input as `<prefix>crash-<sha1>`.
    return LLVMFuzzerRunDriver(&n, &v) { data, size in
        let bytes = size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size))
        if let finding = FuzzHarness.current?.run(bytes) {
            FileHandle.standardError.write(Data("finding: \(finding)\n".utf8))
            abort()
        }
        return 0
    }
}
#else
@main
struct FuzzCommand {
    static func main() {
        let args = CommandLine.arguments
        guard args.count >= 2 else { fail("usage: sardfq-fuzz list | HARNESS (--seeds DIR | --replay PATH… | --mutate N [--seed S])") }
        if args[1] == "list" {
            for h in FuzzHarness.all { print("\(h.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(h.summary)") }
            exit(0)
        }
        guard let harness = FuzzHarness.named(args[1]) else {
            fail("unknown harness '\(args[1])' (harnesses: \(FuzzHarness.all.map(\.name).joined(separator: ", ")))")
        }
        let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let rest = Array(args.dropFirst(2))
        switch rest.first {
        case "--seeds":
            guard rest.count == 2 else { fail("--seeds needs one folder") }
            writeSeeds(harness, root: root, to: URL(fileURLWithPath: rest[1]))
        case "--replay":
            exit(replay(harness, paths: Array(rest.dropFirst())))
        case "--verdict" where harness.name == "safetensors":
            for p in rest.dropFirst() {
                guard let d = FileManager.default.contents(atPath: p) else { fail("cannot read \(p)") }
                let v = FuzzHarness.safetensorsVerdict([UInt8](d))
                print("\(p)\t" + (v.map { "refuse: " + $0.replacingOccurrences(of: "\n", with: " ") } ?? "accept"))
            }
        case "--mutate":
            guard rest.count >= 2, let n = Int(rest[1]), n >= 0 else { fail("--mutate needs a count") }
            var seed: UInt64 = 0
            if rest.count >= 4, rest[2] == "--seed" { seed = UInt64(rest[3]) ?? 0 }
            let findings = Mutator.run(harness, seeds: harness.seeds(root: root), count: n, seed: seed)
            for f in findings.prefix(10) { print("finding: \(f.finding) (\(f.input.count)-byte input)") }
            print("\(harness.name): \(n) mutated inputs, \(findings.count) findings")
            exit(findings.isEmpty ? 0 : 1)
        default:
            fail("this build has no libFuzzer: coverage-guided runs need `make fuzz`; here use --seeds, --replay or --mutate")
        }
    }

    static func writeSeeds(_ harness: FuzzHarness, root: URL, to dir: URL) {
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let seeds = harness.seeds(root: root)
        for (k, s) in seeds.enumerated() {
            do { try Data(s).write(to: dir.appendingPathComponent(String(format: "seed-%04d", k))) } catch {
                fail("cannot write \(dir.path): \(error.localizedDescription)")
            }
        }
        print("\(harness.name): \(seeds.count) seeds in \(dir.path)")
    }

    static func replay(_ harness: FuzzHarness, paths: [String]) -> Int32 {
        var files: [URL] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else { fail("no such file: \(p)") }
            if isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []
                files += names.sorted().map { URL(fileURLWithPath: p).appendingPathComponent($0) }
            } else {
                files.append(URL(fileURLWithPath: p))
            }
        }
        var findings = 0
        for f in files {
            guard let d = try? Data(contentsOf: f) else { continue }
            if let finding = harness.run([UInt8](d)) { print("\(f.path): \(finding)"); findings += 1 }
        }
        print("\(harness.name): \(files.count) inputs replayed, \(findings) findings")
        return findings == 0 ? 0 : 1
    }
}
#endif

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("sardfq-fuzz: \(message)\n".utf8))
    exit(2)
}
