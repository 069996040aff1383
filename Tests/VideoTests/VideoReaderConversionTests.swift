import Foundation
import Testing
import Video

/// The YUV -> RGB conversion equals the ffmpeg CLI's with the same libswscale flags, for several pixel
/// formats, matrices and ranges: proof that the frame's matrix, range and chroma handling are honoured.
@Suite struct VideoReaderConversionTests {
    @Test(arguments: [
        ("vp9-420.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p", "-crf", "20", "-b:v", "0"]),
        ("h264-444.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv444p"]),
        ("h264-420-bt709.mp4", ["-vf", "pad=180:136", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                                "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"]),
        ("h264-420-full.mp4", ["-vf", "pad=180:136", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-color_range", "pc"]),
        ("mjpeg.avi", ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"]),
        ("h264-10bit.mkv", ["-vf", "pad=180:136", "-c:v", "libx264", "-pix_fmt", "yuv420p10le"]),
        ("vp9-422.webm", ["-c:v", "libvpx-vp9", "-pix_fmt", "yuv422p", "-b:v", "0", "-crf", "30"]),
    ])
    func matchesFFmpegCLI(name: String, codecArguments: [String]) throws {
        let source = try SourceFrames.shared.get()
        let video = try source.encode(name, codecArguments)
        let reader = try VideoReader(path: video.path)
        let frames = try reader.frames(at: Array(0..<reader.frameCount))
        let reference = [UInt8](try FFmpegTool.run([
            "-i", video.path, "-sws_flags", "bicubic+accurate_rnd+full_chroma_int+bitexact",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
        ]))
        let frameBytes = reader.width * reader.height * 3
        #expect(reference.count == frameBytes * reader.frameCount)
        for (index, frame) in frames.enumerated() where reference.count >= (index + 1) * frameBytes {
            let expected = Array(reference[(index * frameBytes)..<((index + 1) * frameBytes)])
            let differing = zip(frame.pixels, expected).filter { $0 != $1 }.count
            let largest = zip(frame.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
            #expect(differing == 0, "\(name): frame \(index): \(differing) bytes differ from ffmpeg, by up to \(largest)")
        }
    }
}
