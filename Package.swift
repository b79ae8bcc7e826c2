// swift-tools-version: 6.0
// sardfq: data-free quantization of vision transformers, stepped through in a REPL.
// Layers (lower never imports higher):
//   sardfq (exe) → Runtime → Script → Plot, Synthesis, Quantization → Models, Datasets → Tensor → CKernels
// Test-only helpers (gradient checking) live in the TestSupport target, which no library imports;
// the fuzz harnesses (Fuzz, sardfq-fuzz, CFuzz; docs/fuzzing.md) sit beside the executable.
import PackageDescription

// C kernels: libmvec's AVX2 entry points need x86-64-v3 (AVX2+FMA, any x86-64 CPU since ~2013).
// We deliberately do not use -march=native, so the binary runs on every machine of this kind.
let cKernelFlags: [String] = ["-O3", "-march=x86-64-v3", "-fno-math-errno"]

let package = Package(
    name: "sardfq",
    products: [
        .executable(name: "sardfq", targets: ["sardfq"]),
        .executable(name: "sardfq-fuzz", targets: ["sardfq-fuzz"]),
    ],
    dependencies: [
        // SHA-256 for cache keys and entry checksums (and HMAC for a Jupyter kernel's messages).
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
    ],
    targets: [
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(cKernelFlags)],
            linkerSettings: [.linkedLibrary("openblas"), .linkedLibrary("dnnl"), .linkedLibrary("gomp"), .linkedLibrary("mvec"), .linkedLibrary("m")]
        ),
        .target(
            name: "CImage",
            linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg"), .linkedLibrary("z")]
        ),
        .target(name: "CSpawn"),
        .target(name: "CZMQ", linkerSettings: [.linkedLibrary("zmq")]),
        .target(
            name: "CReadline",
            linkerSettings: [.linkedLibrary("readline")]
        ),
        .target(name: "Tensor", dependencies: ["CKernels"]),
        .target(name: "Datasets", dependencies: ["Tensor", "CImage"]),
        .target(name: "Models", dependencies: ["Tensor", "Datasets"]),
        .target(name: "Quantization", dependencies: ["Tensor", "Models", "Datasets", "CKernels"]),
        .target(name: "Synthesis", dependencies: ["Tensor", "Models", "CKernels"]),
        .target(name: "Plot", dependencies: ["Tensor", "CImage", "CSpawn"]),
        .target(name: "Script", dependencies: ["Tensor", "Datasets", "Models", "Quantization", "Synthesis", "Plot",
                                              .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Kernel", dependencies: ["Script", "Plot", "CZMQ", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Runtime", dependencies: ["Kernel", "Script", "Quantization", "Synthesis", "Models", "Datasets", "Plot", "Tensor", "CKernels", "CReadline"]),
        .executableTarget(name: "sardfq", dependencies: ["Runtime"]),
        // Fuzz harnesses (docs/fuzzing.md): no library imports them.
        .target(name: "CFuzz"),
        .target(name: "Fuzz", dependencies: ["Script", "Datasets", "Tensor"]),
        .executableTarget(name: "sardfq-fuzz", dependencies: ["Fuzz", "CFuzz"]),
        .target(name: "TestSupport", dependencies: ["Tensor"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Datasets", "Tensor"], resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Plot", "Tensor"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SynthesisTests", dependencies: ["Synthesis", "Models", "Quantization", "Datasets", "Script", "Tensor", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "Models", "Datasets", "Tensor", "CKernels"]),
        .testTarget(name: "ScriptTests", dependencies: ["Script", "Runtime", "Models", "Datasets", "Tensor", "Plot", "Fuzz"], resources: [.copy("Corpus")]),
    ],
    swiftLanguageModes: [.v5]
)
