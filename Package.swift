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
        .library(name: "Checkpoint", targets: ["Checkpoint"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
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

        // Swift layers.
        .target(name: "SystemInfo", dependencies: ["CZeroMQ", "COpenBLAS", "CImageCodecs", "CKernels"]),
        .target(name: "Checkpoint"),
        .target(name: "Video", dependencies: ["CFFmpeg"]),
        .target(
            name: "Tokenizer",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .executableTarget(
            name: "internvl",
            dependencies: [
                "SystemInfo", "Checkpoint",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "TestSupport"]),
        .testTarget(name: "VideoTests", dependencies: ["Video", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["internvl", "Checkpoint", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
