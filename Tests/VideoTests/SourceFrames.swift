import Foundation
import TestSupport

/// The 8 frames of the fixture video case (180x135 PNGs), copied as `frame_00.png ... frame_07.png` into a
/// temporary directory so ffmpeg's image-sequence input can read them, with their RGB24 pixels decoded by ffmpeg.
struct SourceFrames {
    static let width = 180, height = 135, count = 8, framesPerSecond = 4

    /// The directory holding `frame_%02d.png`.
    let directory: URL
    /// RGB24 bytes of each frame, in order.
    let pixels: [[UInt8]]

    /// Built once for the whole test run.
    static let shared: Result<SourceFrames, Error> = Result { try SourceFrames() }

    private init() throws {
        let sourceDirectory = Fixtures.tiny.appendingPathComponent("images/video_8_frames")
        let names = try FileManager.default.contentsOfDirectory(atPath: sourceDirectory.path)
            .filter { $0.hasSuffix(".png") }.sorted()
        guard names.count == Self.count else {
            throw FFmpegTool.Failure(description: "expected \(Self.count) PNGs in \(sourceDirectory.path), found \(names.count)")
        }
        directory = try Fixtures.temporaryDirectory("video-frames")
        var pixels: [[UInt8]] = []
        for (index, name) in names.enumerated() {
            let copy = directory.appendingPathComponent(String(format: "frame_%02d.png", index))
            try FileManager.default.copyItem(at: sourceDirectory.appendingPathComponent(name), to: copy)
            pixels.append(try FFmpegTool.rgb24(of: copy))
        }
        self.pixels = pixels
    }

    /// The image-sequence input arguments for ffmpeg.
    var inputArguments: [String] {
        ["-framerate", String(Self.framesPerSecond), "-i", directory.appendingPathComponent("frame_%02d.png").path]
    }

    /// Encodes the frames into `name` (in a new temporary directory) with the given output arguments.
    func encode(_ name: String, _ outputArguments: [String]) throws -> URL {
        let target = try Fixtures.temporaryDirectory("video-encoded").appendingPathComponent(name)
        try FFmpegTool.run(["-y"] + inputArguments + outputArguments + [target.path])
        return target
    }
}

/// Mean absolute difference between two equally long byte arrays.
func meanAbsoluteError(_ a: [UInt8], _ b: [UInt8]) -> Double {
    precondition(a.count == b.count)
    var total = 0
    for i in a.indices { total += abs(Int(a[i]) - Int(b[i])) }
    return Double(total) / Double(a.count)
}
