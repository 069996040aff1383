import Foundation
import Testing
import TestSupport
import Video

/// Bad input never crashes or hangs: it throws a `VideoError` whose one-line description names the file.
@Suite struct VideoReaderErrorTests {
    /// Opens `path` and returns the `VideoError` it must throw.
    private func openError(_ path: String, maxPixels: Int = VideoReader.defaultMaxPixels) -> VideoError? {
        do {
            _ = try VideoReader(path: path, maxPixels: maxPixels)
            return nil
        } catch let error as VideoError {
            #expect(error.path == path)
            #expect(error.description.hasPrefix(path + ": "))
            #expect(!error.description.contains("\n"))
            return error
        } catch {
            Issue.record("\(path): expected a VideoError, got \(error)")
            return nil
        }
    }

    private func write(_ bytes: [UInt8], named name: String) throws -> URL {
        let url = try Fixtures.temporaryDirectory("video-bad").appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    @Test func missingFile() throws {
        let path = try Fixtures.temporaryDirectory("video-bad").appendingPathComponent("absent.mp4").path
        #expect(openError(path) == .fileNotFound(path: path))
    }

    @Test func directory() throws {
        let path = try Fixtures.temporaryDirectory("video-bad").path
        guard case .notAVideo = openError(path) else { Issue.record("a directory must be notAVideo"); return }
    }

    @Test func deviceIsNotAVideo() {
        guard case .notAVideo(_, let reason) = openError("/dev/null") else {
            Issue.record("/dev/null must be notAVideo"); return
        }
        #expect(reason == "not a regular file")
    }

    @Test func emptyFile() throws {
        let path = try write([], named: "empty.mp4").path
        guard case .notAVideo = openError(path) else { Issue.record("an empty file must be notAVideo"); return }
    }

    @Test func randomBytes() throws {
        var generator = SeededGenerator(seed: 42)
        let bytes = (0..<65_536).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let path = try write(bytes, named: "noise.mp4").path
        guard case .notAVideo = openError(path) else { Issue.record("random bytes must be notAVideo"); return }
    }

    /// A still image opens in FFmpeg as a one-frame video; `VideoReader` refuses it (images have their own path).
    @Test func pngIsNotAVideo() throws {
        let source = try SourceFrames.shared.get()
        let path = source.directory.appendingPathComponent("frame_00.png").path
        guard case .notAVideo(_, let reason) = openError(path) else {
            Issue.record("a PNG must be notAVideo"); return
        }
        #expect(reason.contains("still image"))
    }

    @Test func audioOnlyFileHasNoVideoStream() throws {
        let target = try Fixtures.temporaryDirectory("video-bad").appendingPathComponent("tone.wav")
        try FFmpegTool.run(["-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", target.path])
        #expect(openError(target.path) == .noVideoStream(path: target.path))
    }

    /// An MP4 whose index (moov, written last) is cut off cannot be opened at all.
    @Test func truncatedMP4WithoutIndex() throws {
        let source = try SourceFrames.shared.get()
        let video = try source.encode("cut.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv444p"])
        let data = try Data(contentsOf: video)
        try data.prefix(data.count / 2).write(to: video)
        guard case .notAVideo = openError(video.path) else { Issue.record("a cut MP4 must be notAVideo"); return }
    }

    /// An MP4 with its index first (faststart) whose frame data is cut off: the index promises frames the
    /// file does not hold.
    @Test func truncatedMP4WithIndexFirst() throws {
        let source = try SourceFrames.shared.get()
        let video = try source.encode("cut-faststart.mp4",
                                      ["-c:v", "libx264", "-pix_fmt", "yuv444p", "-movflags", "+faststart"])
        let data = try Data(contentsOf: video)
        try data.prefix(data.count * 6 / 10).write(to: video)
        guard case .corruptStream = openError(video.path) else {
            Issue.record("a faststart MP4 cut in its frame data must be corruptStream"); return
        }
    }

    @Test func indexOutOfRange() throws {
        let source = try SourceFrames.shared.get()
        let video = try source.encode("range.mkv", ["-c:v", "ffv1", "-pix_fmt", "bgr0"])
        let reader = try VideoReader(path: video.path)
        for index in [SourceFrames.count, -1, 1_000_000] {
            #expect(throws: VideoError.indexOutOfRange(path: video.path, index: index, frameCount: SourceFrames.count)) {
                try reader.frames(at: [0, index])
            }
        }
        let description = VideoError.indexOutOfRange(path: video.path, index: 8, frameCount: 8).description
        #expect(description == "\(video.path): frame index 8 is out of range 0..<8")
    }

    @Test func frameOverPixelLimit() throws {
        let source = try SourceFrames.shared.get()
        let video = try source.encode("limit.mkv", ["-c:v", "ffv1", "-pix_fmt", "bgr0"])
        let limit = SourceFrames.width * SourceFrames.height - 1
        #expect(openError(video.path, maxPixels: limit)
                == .frameTooLarge(path: video.path, width: SourceFrames.width, height: SourceFrames.height, maxPixels: limit))
        #expect(try VideoReader(path: video.path, maxPixels: limit + 1).frameCount == SourceFrames.count)
    }

    /// A raw H.264 stream declares no size in a header: the limit must still stop it, at open or at decode.
    @Test func rawStreamOverPixelLimit() throws {
        let source = try SourceFrames.shared.get()
        let mp4 = try source.encode("raw-limit.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv444p"])
        let raw = mp4.deletingLastPathComponent().appendingPathComponent("raw-limit.h264")
        try FFmpegTool.run(["-y", "-i", mp4.path, "-c:v", "copy", "-bsf:v", "h264_mp4toannexb", raw.path])
        let limit = 1000
        let expected = VideoError.frameTooLarge(path: raw.path, width: SourceFrames.width, height: SourceFrames.height,
                                                maxPixels: limit)
        #expect(throws: expected) {
            let reader = try VideoReader(path: raw.path, maxPixels: limit)
            _ = try reader.frames(at: [0])
        }
    }
}
