import Foundation
import Testing
import Video

/// Videos built from the fixture frames decode back to those frames: exactly for lossless codecs, within a
/// measured error for lossy ones; frame count and rate are exact.
@Suite struct VideoReaderRoundTripTests {
    /// Lossless RGB encodings: each decoded frame must equal the source PNG byte for byte.
    @Test(arguments: [
        ("ffv1.mkv", ["-c:v", "ffv1", "-pix_fmt", "bgr0"]),
        ("png.avi", ["-c:v", "png", "-pix_fmt", "rgb24"]),
        ("ffv1-gbrp.mkv", ["-c:v", "ffv1", "-pix_fmt", "gbrp"]),
    ])
    func losslessRoundTrip(name: String, codecArguments: [String]) throws {
        let source = try SourceFrames.shared.get()
        let video = try source.encode(name, codecArguments)
        let reader = try VideoReader(path: video.path)
        #expect(reader.frameCount == SourceFrames.count)
        #expect(reader.fps == Double(SourceFrames.framesPerSecond))
        #expect(reader.width == SourceFrames.width && reader.height == SourceFrames.height)
        let frames = try reader.frames(at: Array(0..<SourceFrames.count))
        #expect(frames.count == SourceFrames.count)
        for (index, frame) in frames.enumerated() {
            #expect(frame.width == SourceFrames.width && frame.height == SourceFrames.height)
            #expect(frame.pixels == source.pixels[index], "\(name): frame \(index) differs from its PNG")
        }
    }

    /// Lossy encodings: same count and rate, each frame within `maxMeanError` levels of its source
    /// (mean absolute difference over all RGB bytes), and frames stay in order: each decoded frame is
    /// closer to its own source than to any other source frame.
    @Test(arguments: [
        ("h264.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv444p", "-crf", "18"], "h264", 3.0),
        ("vp9.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-crf", "20", "-b:v", "0"], "vp9", 4.0),
        ("mjpeg.avi", ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "2"], "mjpeg", 3.0),
    ])
    func lossyRoundTrip(name: String, codecArguments: [String], codec: String, maxMeanError: Double) throws {
        let source = try SourceFrames.shared.get()
        let video = try source.encode(name, codecArguments)
        let reader = try VideoReader(path: video.path)
        #expect(reader.codecName == codec)
        #expect(reader.frameCount == SourceFrames.count)
        #expect(reader.fps == Double(SourceFrames.framesPerSecond))
        let frames = try reader.frames(at: Array(0..<SourceFrames.count))
        for (index, frame) in frames.enumerated() {
            #expect(frame.width == SourceFrames.width && frame.height == SourceFrames.height)
            let errors = source.pixels.map { meanAbsoluteError(frame.pixels, $0) }
            #expect(errors[index] <= maxMeanError, "\(name): frame \(index) mean abs error \(errors[index])")
            #expect(errors.firstIndex(of: errors.min()!) == index, "\(name): frame \(index) matches another source frame")
        }
    }
}
