import Foundation
import Testing
import TestSupport
import Video

/// `frames(at:)` returns the requested frames in the requested order, identical to a sequential read.
@Suite struct VideoReaderIndexTests {
    @Test func requestedOrderAndRepeats() throws {
        let source = try SourceFrames.shared.get()
        // H.264 with B-frames: decode order differs from display order, which must not leak into indices.
        let video = try source.encode("bframes.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv444p", "-bf", "3", "-g", "4"])
        let reader = try VideoReader(path: video.path)
        let sequential = try reader.frames(at: Array(0..<SourceFrames.count))
        let picked = try reader.frames(at: [7, 0, 3])
        #expect(picked == [sequential[7], sequential[0], sequential[3]])
        let repeated = try reader.frames(at: [2, 2, 5])
        #expect(repeated == [sequential[2], sequential[2], sequential[5]])
        #expect(sequential[2] != sequential[5])
        #expect(try reader.frames(at: []).isEmpty)
    }

    @Test func prefixReadStopsEarlyAndMatches() throws {
        let source = try SourceFrames.shared.get()
        let video = try source.encode("prefix.mkv", ["-c:v", "ffv1", "-pix_fmt", "bgr0"])
        let reader = try VideoReader(path: video.path)
        let first = try reader.frames(at: [1, 0])
        #expect(first.map(\.pixels) == [source.pixels[1], source.pixels[0]])
    }
}

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
