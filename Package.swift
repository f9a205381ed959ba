// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "MemAtlas",
    products: [
        .executable(name: "mematlas", targets: ["mematlas"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The trace format: one C header read by the C recorder (writer) and by TraceIO (reader).
        .target(name: "MemAtlasTraceSchema"),
        // The LD_PRELOAD recorder. Never linked into a Swift product: `Recording` compiles these
        // sources with the system C compiler into a libc-only shared object at first use.
        .target(
            name: "CMemAtlasRecorder",
            dependencies: ["MemAtlasTraceSchema"],
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .target(name: "TraceModel"),
        .target(name: "TraceIO", dependencies: ["TraceModel", "MemAtlasTraceSchema"]),
        .target(name: "Analysis", dependencies: ["TraceModel", "TraceIO", "CMemAtlasShims"]),
        // The replay loop touches model arrays held by classes: dynamic exclusivity checks cost more than the work.
        .target(
            name: "AllocatorLab", dependencies: ["TraceModel", "TraceIO", "Analysis"],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        .target(name: "CMemAtlasShims"),
        .target(name: "VirtualMemory", dependencies: ["CMemAtlasShims", "TraceModel", "TraceIO"]),
        .target(name: "MemorySimulators"),
        // zlib (system library) for gzip-compressed pprof exports.
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        .target(name: "Render", dependencies: ["TraceModel", "Analysis", "AllocatorLab", "VirtualMemory", "MemorySimulators", "CZlib"]),
        .target(name: "Recording", dependencies: ["TraceModel", "TraceIO", "MemAtlasTraceSchema", "CMemAtlasShims"]),
        .executableTarget(
            name: "mematlas",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                "TraceModel", "TraceIO", "Analysis", "AllocatorLab", "VirtualMemory",
                "MemorySimulators", "Render", "Recording",
            ]
        ),
        // Feeds the trace reader mutated traces (Benchmarks/reliability/README.md); TraceIOTests runs it.
        .executableTarget(name: "trace-fuzz", dependencies: ["TraceIO", "Analysis", "MemAtlasTraceSchema"], path: "Tests/TraceFuzz"),
        .target(name: "TestSupport", dependencies: ["TraceModel", "TraceIO", "Analysis", "Recording"], path: "Tests/TestSupport"),
        .testTarget(name: "TraceIOTests", dependencies: ["TraceIO", "Analysis", "Recording", "TestSupport"]),
        .testTarget(name: "RecordingTests", dependencies: ["Recording", "Analysis", "TestSupport"]),
        .testTarget(name: "VirtualMemoryTests", dependencies: ["VirtualMemory", "TestSupport"]),
        .testTarget(name: "MemorySimulatorsTests", dependencies: ["MemorySimulators", "Render", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["mematlas", "TestSupport", "Recording", "TraceIO", "TraceModel"]),
        .testTarget(name: "AllocatorLabTests", dependencies: ["AllocatorLab", "Render", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "FlameGraphTests", dependencies: ["Analysis", "Render", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "ReportTests", dependencies: ["Analysis", "Render", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "HeapMapTests", dependencies: ["Analysis", "Render", "TestSupport"], exclude: ["Golden"]),
    ],
    swiftLanguageModes: [.v5]
)
