// sardfq-fuzz: the fuzz harnesses of docs/fuzzing.md.
//
//   sardfq-fuzz list                              the harnesses
//   sardfq-fuzz HARNESS --seeds DIR               write the seed corpus (repository files + made inputs)
//   sardfq-fuzz HARNESS --replay FILE|DIR…        run saved inputs (a crash reproduces here)
//   sardfq-fuzz HARNESS --mutate N [--seed S]     N deterministic mutations of the seeds, no libFuzzer
//   sardfq-fuzz HARNESS [libFuzzer flags] DIR…    coverage-guided fuzzing (a `make fuzz` build only)
import CFuzz
import Foundation
import Fuzz

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("sardfq-fuzz: \(message)\n".utf8))
    exit(2)
}

let args = CommandLine.arguments
guard args.count >= 2 else { fail("usage: sardfq-fuzz list | HARNESS (--seeds DIR | --replay PATH… | --mutate N [--seed S] | libFuzzer flags…)") }
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
    let dir = URL(fileURLWithPath: rest[1])
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let seeds = harness.seeds(root: root)
    for (k, s) in seeds.enumerated() {
        do { try Data(s).write(to: dir.appendingPathComponent(String(format: "seed-%04d", k))) } catch {
            fail("cannot write \(dir.path): \(error.localizedDescription)")
        }
    }
    print("\(harness.name): \(seeds.count) seeds in \(dir.path)")
case "--replay":
    var files: [URL] = []
    for p in rest.dropFirst() {
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
    exit(findings == 0 ? 0 : 1)
case "--mutate":
    guard rest.count >= 2, let n = Int(rest[1]), n >= 0 else { fail("--mutate needs a count") }
    var seed: UInt64 = 0
    if rest.count >= 4, rest[2] == "--seed" { seed = UInt64(rest[3]) ?? 0 }
    let findings = Mutator.run(harness, seeds: harness.seeds(root: root), count: n, seed: seed)
    for f in findings.prefix(10) { print("finding: \(f.finding) (\(f.input.count)-byte input)") }
    print("\(harness.name): \(n) mutated inputs, \(findings.count) findings")
    exit(findings.isEmpty ? 0 : 1)
default:
    guard cf_have_libfuzzer() == 1 else {
        fail("this build has no libFuzzer: build it with `make fuzz`, or use --replay / --mutate")
    }
    // libFuzzer calls back through a C function pointer, which cannot capture: the harness is a global.
    FuzzHarness.current = harness
    var argv: [UnsafeMutablePointer<CChar>?] = ([args[0]] + rest).map { strdup($0) } + [nil]
    var argc = Int32(argv.count - 1)
    let status = argv.withUnsafeMutableBufferPointer { buf -> Int32 in
        var base = buf.baseAddress
        return cf_run_driver(&argc, &base) { data, size in
            let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
            if let finding = FuzzHarness.current?.run(bytes) {
                FileHandle.standardError.write(Data("finding: \(finding)\n".utf8))
                abort()  // libFuzzer saves the input as crash-<sha1>
            }
            return 0
        }
    }
    exit(status)
}
