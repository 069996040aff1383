import ArgumentParser
import SystemInfo

/// `internvl version`: the release and, with `--verbose`, the native libraries in use.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Print the version and the native libraries this binary uses.")

    @Flag(name: .shortAndLong, help: "Also print the libraries (ZeroMQ, OpenBLAS core, libpng, TurboJPEG).")
    var verbose = false

    func run() throws {
        print("internvl \(InternVLVersion.string)")
        guard verbose else { return }
        print("zeromq \(SystemInfo.zeroMQVersion)")
        print("openblas core \(SystemInfo.openBLASCore) (\(SystemInfo.openBLASConfig))")
        print("libpng \(SystemInfo.pngVersion)")
        let level = SystemInfo.kernelLevel
        print("kernels \(level.active) (machine maximum \(level.maximum); cap with INTERNVL_CPU)")
        print("turbojpeg \(SystemInfo.turboJPEGAvailable ? "available" : "unavailable")")
    }
}
