import Foundation
import Testing
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
