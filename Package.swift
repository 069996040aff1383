// swift-tools-version:6.0
import PackageDescription

/// internvl-swift: InternVL2 on CPUs, in one process or split across many.
///
/// Dependencies point one way, down this list:
///   C system libraries and kernels -> Checkpoint, Tokenizer -> (Models, Cluster, ...) -> the `internvl` CLI.
let package = Package(
    name: "internvl-swift",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "internvl", targets: ["internvl"]),
        .library(name: "InternVL", targets: ["InternVL"]),
        .library(name: "Checkpoint", targets: ["Checkpoint"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // C system libraries: module.modulemap + shim.h each, with their Debian providers.
        .systemLibrary(name: "CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CImageCodecs", pkgConfig: "libpng",
            providers: [.apt(["libturbojpeg0-dev", "libpng-dev"])]),
        .systemLibrary(
            name: "CFFmpeg", pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),

        // Hand-written SIMD kernels with run-time CPU dispatch (clang: AMX tile code needs it).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // libpng read helper that owns libpng's setjmp/longjmp error handling (never crosses Swift frames).
        .target(name: "CImageSupport", dependencies: ["CImageCodecs"], linkerSettings: [.linkedLibrary("png16")]),

        // Swift layers.
        .target(name: "Kernels", dependencies: ["CKernels", "COpenBLAS"]),
        .target(name: "Benchmarks", dependencies: ["Kernels", "CKernels", "COpenBLAS"]),
        .target(
            name: "ClusterBenchmarks",
            dependencies: ["Transport", "Wire", "Cluster", "Models", "Checkpoint", "Kernels", "Benchmarks"]),
        .target(name: "SystemInfo", dependencies: ["CZeroMQ", "COpenBLAS", "CImageCodecs", "CKernels"]),
        .target(name: "Checkpoint"),
        .target(name: "Media", dependencies: ["CImageCodecs", "CImageSupport"]),
        .target(name: "Video", dependencies: ["CFFmpeg"]),
        .target(
            name: "Tokenizer",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "Transport", dependencies: ["CZeroMQ"]),
        .target(
            name: "Wire",
            dependencies: ["Transport", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(
            name: "Cluster",
            dependencies: ["Checkpoint", "Wire", "Transport", "CZeroMQ", "Yams", "Models", "Media", "Tokenizer", "InternVL"]),
        .target(name: "ModelFactory", dependencies: ["Checkpoint", "Tokenizer"]),
        .target(name: "Models", dependencies: ["Checkpoint", "Kernels", "COpenBLAS"], swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "InternVL", dependencies: ["Checkpoint", "Tokenizer", "Media", "Video", "Models", "Kernels"]),
        .executableTarget(
            name: "internvl",
            dependencies: [
                "SystemInfo", "Checkpoint", "Tokenizer", "Media", "Video", "Models", "InternVL", "Cluster", "ModelFactory",
                "Benchmarks", "ClusterBenchmarks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .executableTarget(name: "library-tour", dependencies: ["InternVL"], path: "Examples/LibraryTour"),

        // Tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "TestSupport"]),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "Wire"]),
        .testTarget(
            name: "ClusterTests",
            dependencies: ["Cluster", "Checkpoint", "TestSupport", "Models", "InternVL", "Transport", "Wire"]),
        .testTarget(name: "ModelFactoryTests", dependencies: ["ModelFactory", "Checkpoint", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["internvl", "library-tour", "Checkpoint", "Transport", "Wire", "TestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"]),
        .testTarget(name: "ModelTests", dependencies: ["Models", "Checkpoint", "TestSupport", "InternVL"]),
        .testTarget(name: "KernelTests", dependencies: ["Kernels", "CKernels", "Benchmarks", "TestSupport"]),
        .testTarget(
            name: "MediaTests",
            dependencies: ["Media", "CImageCodecs", "Checkpoint"],
            exclude: ["Resources"]),
        .testTarget(name: "VideoTests", dependencies: ["Video", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
