import Foundation

/// Runs the `ffmpeg` command-line tool, which these tests use to build videos and to decode the reference PNGs.
/// A missing `ffmpeg` is an error (the tests fail), never a skip: CI installs it (Debian package `ffmpeg`).
enum FFmpegTool {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `ffmpeg` on PATH.
    static func executable() throws -> URL {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for directory in directories {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("ffmpeg")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw Failure(description: "ffmpeg not found on PATH: the video tests need the ffmpeg CLI "
                      + "(Debian package `ffmpeg`, installed by Scripts/install-deps.sh)")
    }

    /// Runs `ffmpeg -hide_banner -loglevel error -nostdin arguments...` and returns its standard output.
    @discardableResult
    static func run(_ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = ["-hide_banner", "-loglevel", "error", "-nostdin"] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            throw Failure(description: "ffmpeg \(arguments.joined(separator: " ")) failed "
                          + "(status \(process.terminationStatus)): \(errorText)")
        }
        return data
    }

    /// Decodes an image file to packed RGB24 bytes with ffmpeg.
    static func rgb24(of image: URL) throws -> [UInt8] {
        [UInt8](try run(["-i", image.path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]))
    }
}
