import Foundation
import Testing
import TestSupport
import Video

/// Files with more than the video stream, and readers shared across threads.
@Suite struct VideoReaderStreamsTests {
    /// An MP4 with an AAC track beside the video: audio packets are neither counted nor decoded.
    @Test func audioTrackIsIgnored() throws {
        let source = try SourceFrames.shared.get()
        let target = try Fixtures.temporaryDirectory("video-audio").appendingPathComponent("with-audio.mp4")
        try FFmpegTool.run(["-y"] + source.inputArguments + [
            "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-pix_fmt", "yuv444p", "-c:a", "aac", target.path,
        ])
        let reader = try VideoReader(path: target.path)
        #expect(reader.frameCount == SourceFrames.count)
        #expect(reader.fps == Double(SourceFrames.framesPerSecond))
        let frames = try reader.frames(at: [6, 1])
        #expect(frames.count == 2)
        let errors = zip(frames, [6, 1]).map { meanAbsoluteError($0.pixels, source.pixels[$1]) }
        #expect(errors.allSatisfy { $0 <= 3 }, "mean abs errors \(errors)")
    }

    /// One reader used from several tasks at once gives the same frames as used alone.
    @Test func concurrentReadsAgree() async throws {
        let source = try SourceFrames.shared.get()
        let video = try source.encode("shared.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv444p", "-g", "3"])
        let reader = try VideoReader(path: video.path)
        let alone = try reader.frames(at: [0, 4, 7])
        let together = try await withThrowingTaskGroup(of: [RGBFrame].self) { group in
            for _ in 0..<4 { group.addTask { try reader.frames(at: [0, 4, 7]) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(together.count == 4)
        #expect(together.allSatisfy { $0 == alone })
    }
}
