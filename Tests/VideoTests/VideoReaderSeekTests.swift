import Foundation
import Testing
import TestSupport
@testable import Video

/// Reads that seek to keyframes give exactly the frames a read from the first frame gives, for several
/// codecs and GOP structures; streams without timestamps fall back to counting frames.
@Suite struct VideoReaderSeekTests {
    static let frameCount = 120
    static let sparse = [3, 11, 12, 13, 47, 60, 61, 90, 118, 119]

    /// A 120-frame, 25 fps moving test pattern (every frame differs), keyframe every 12 frames.
    private func encode(_ name: String, _ codecArguments: [String]) throws -> URL {
        let target = try Fixtures.temporaryDirectory("video-seek").appendingPathComponent(name)
        try FFmpegTool.run(["-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25",
                            "-frames:v", String(Self.frameCount)] + codecArguments + [target.path])
        return target
    }

    @Test(arguments: [
        ("closed-gop.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12", "-bf", "3"]),
        ("open-gop.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-x264-params", "keyint=12:open-gop=1:bframes=3"]),
        ("bframes.mkv", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12", "-bf", "2"]),
        ("vp9.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-g", "12", "-crf", "30", "-b:v", "0"]),
        ("mpeg4.avi", ["-c:v", "mpeg4", "-g", "12", "-bf", "2"]),
    ])
    func seekingMatchesReadingFromFirstFrame(name: String, codecArguments: [String]) throws {
        let video = try encode(name, codecArguments)
        let reader = try VideoReader(path: video.path)
        #expect(reader.frameCount == Self.frameCount)
        #expect(reader.fps == 25)
        var sequentialStatistics = ReadStatistics()
        let sequential = try reader.frames(at: Self.sparse, allowSeeking: false, statistics: &sequentialStatistics)
        #expect(sequentialStatistics.seeks == 0)
        #expect(sequentialStatistics.decodedFrames == Self.frameCount)
        var seekingStatistics = ReadStatistics()
        let seeking = try reader.frames(at: Self.sparse.reversed(), allowSeeking: true, statistics: &seekingStatistics)
        #expect(seeking.reversed() == sequential, "\(name): seeking read differs from the sequential one")
        if reader.index.isSeekable {
            #expect(!seekingStatistics.restartedFromFirstFrame, "\(name): timestamp-guided read gave up")
            #expect(seekingStatistics.seeks > 0)
            // Ideal for keyframes every 12 frames: 47 decoded frames; landing a keyframe too early would cost 12 each.
            #expect(seekingStatistics.decodedFrames < Self.frameCount / 2)
        }
        // Different frames really differ (the pattern moves), so a wrong frame would be noticed.
        #expect(Set(sequential.map(\.pixels)).count == Self.sparse.count)
    }

    /// The containers that carry timestamps get the keyframe path; the test above must exercise it.
    @Test func timestampedContainersAreSeekable() throws {
        for name in ["closed-gop.mp4", "bframes.mkv", "vp9.webm"] {
            let arguments = name.hasSuffix(".webm")
                ? ["-c:v", "libvpx-vp9", "-g", "12"] : ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12"]
            let reader = try VideoReader(path: try encode(name, arguments).path)
            #expect(reader.index.isSeekable, "\(name) should be read by seeking")
            #expect(reader.index.keyframes.count == Self.frameCount / 12)
        }
    }

    /// A raw H.264 stream has no timestamps: frames are counted in output order, and equal those of the same
    /// bitstream in MP4 (where they are found by timestamp).
    @Test func rawStreamWithoutTimestamps() throws {
        let mp4 = try encode("raw-source.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12", "-bf", "3"])
        let raw = mp4.deletingLastPathComponent().appendingPathComponent("stream.h264")
        try FFmpegTool.run(["-y", "-i", mp4.path, "-c:v", "copy", "-bsf:v", "h264_mp4toannexb", raw.path])
        let rawReader = try VideoReader(path: raw.path)
        let mp4Reader = try VideoReader(path: mp4.path)
        #expect(!rawReader.index.isSeekable)
        #expect(rawReader.frameCount == Self.frameCount)
        #expect(try rawReader.frames(at: Self.sparse) == mp4Reader.frames(at: Self.sparse))
    }

    /// Reading from the first frame equals the ffmpeg CLI's decode (same conversion flags) frame by frame.
    @Test func readingFromFirstFrameMatchesFFmpegCLI() throws {
        let video = try encode("cli.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12", "-bf", "3"])
        let reader = try VideoReader(path: video.path)
        let all = Array(0..<Self.frameCount)
        let frames = try reader.frames(at: all)
        let reference = [UInt8](try FFmpegTool.run([
            "-i", video.path, "-sws_flags", "bicubic+accurate_rnd+full_chroma_int+bitexact",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ]))
        let frameBytes = 96 * 64 * 3
        #expect(reference.count == frameBytes * Self.frameCount)
        let matching = all.filter { i in
            reference.count >= (i + 1) * frameBytes
                && frames[i].pixels.elementsEqual(reference[(i * frameBytes)..<((i + 1) * frameBytes)])
        }
        #expect(matching == all)
    }

    /// An MP4 cut with `-ss ... -c copy` starts mid-GOP: its edit list marks the leading packets as decoded
    /// but never shown. `frameCount` counts shown frames only (the container's sample count is larger), and
    /// every frame, by seeking or not, equals the ffmpeg CLI's decode.
    @Test func editListCutCountsShownFramesOnly() throws {
        let long = try encode("long.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "24", "-bf", "2"])
        let cut = long.deletingLastPathComponent().appendingPathComponent("edit-cut.mp4")
        try FFmpegTool.run(["-y", "-ss", "1.3", "-i", long.path, "-c", "copy", cut.path])
        let reference = [UInt8](try FFmpegTool.run([
            "-i", cut.path, "-sws_flags", "bicubic+accurate_rnd+full_chroma_int+bitexact",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ]))
        let frameBytes = 96 * 64 * 3
        let shown = reference.count / frameBytes
        let reader = try VideoReader(path: cut.path)
        #expect(shown > 0 && shown < Self.frameCount - 24)
        #expect(reader.frameCount == shown)
        let all = Array(0..<reader.frameCount)
        var statistics = ReadStatistics()
        let sequential = try reader.frames(at: all, allowSeeking: false, statistics: &statistics)
        let sparse = [shown - 1, shown / 2, 0, 5]
        statistics = ReadStatistics()
        let seeking = try reader.frames(at: sparse, allowSeeking: true, statistics: &statistics)
        #expect(!statistics.restartedFromFirstFrame)
        #expect(seeking == sparse.map { sequential[$0] })
        let matching = all.filter { i in
            sequential[i].pixels.elementsEqual(reference[(i * frameBytes)..<((i + 1) * frameBytes)])
        }
        #expect(matching == all)
    }
}
