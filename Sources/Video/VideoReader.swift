import CFFmpeg

/// Reads frames of a video file (any container and codec Debian's FFmpeg 5.1 decodes: MP4/H.264,
/// WebM/VP9, AVI/MJPEG, MKV/FFV1, ...) as packed RGB24, frame-exactly.
///
/// Opening reads the whole file once without decoding to count the video stream's packets (less those an
/// MP4 edit list marks as never shown): that count is `frameCount`, as in decord (whose `len()` is the size
/// of its packet index) and equal to the number of decoded frames for codecs that carry one frame per
/// packet, which is every common one. Containers that do not store a frame count (Matroska, WebM, raw
/// streams) therefore still get an exact count, with no duration x fps estimate.
///
/// Frame `i` is always the `i`-th frame shown. When every packet has its own presentation timestamp,
/// `frames(at:)` seeks to the keyframe shown at or before each wanted frame and decodes forward, naming
/// frames by timestamp; if anything cannot be placed exactly (a frame without or with an unknown
/// timestamp, a seek that lands past the frame, a decoding error) it starts again from the first frame
/// and counts frames in output order, which is also what it does for streams without timestamps.
/// Seeking trusts the container's keyframe marks to be random-access points, which is what they mean.
///
/// A reader holds no FFmpeg state between calls (each `frames(at:)` opens its own demuxer and decoder),
/// so it is a plain `Sendable` value and calls may run concurrently.
///
/// Still images (which FFmpeg would open as one-frame videos) are refused with `VideoError.notAVideo`.
/// FFmpeg's logging is silenced; every problem is a `VideoError` naming the file.
public struct VideoReader: Sendable {
    /// The default limit on pixels per frame.
    public static let defaultMaxPixels = 40_000_000

    /// The path the reader was opened with.
    public let path: String
    /// Frames larger than this many pixels are refused.
    public let maxPixels: Int
    /// The number of frames in the video stream (see the type's documentation for how it is counted).
    public let frameCount: Int
    /// The stream's average frame rate in frames per second (its nominal rate when the container gives no
    /// average; 0 when it gives neither).
    public let fps: Double
    /// Frame width in pixels, from the stream header.
    public let width: Int
    /// Frame height in pixels, from the stream header.
    public let height: Int
    /// FFmpeg's name of the video codec, e.g. "h264", "vp9", "mjpeg".
    public let codecName: String
    /// FFmpeg's name of the container format, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
    public let containerName: String
    /// Frame timestamps and keyframes, gathered while counting.
    let index: FrameIndex

    /// Opens the video at `path` and counts its frames.
    /// - Throws: `VideoError` for a missing file, a file that is not a video (or is a still image), no video
    ///   stream, a codec this FFmpeg cannot decode, a damaged container, or frames over `maxPixels`.
    public init(path: String, maxPixels: Int = VideoReader.defaultMaxPixels) throws {
        let input = try DemuxedInput(path: path, maxPixels: maxPixels)
        self.path = path
        self.maxPixels = maxPixels
        let parameters = input.parameters
        width = Int(parameters.width)
        height = Int(parameters.height)
        codecName = String(cString: avcodec_get_name(parameters.codec_id))
        containerName = input.containerName
        fps = Self.framesPerSecond(input.stream.pointee)
        var index = FrameIndex()
        while let packet = try input.nextPacket() { index.add(packet.pointee) }
        index.finish()
        if index.frameCount == 0 {
            throw VideoError.corruptStream(path: path, detail: "the video stream holds no frames")
        }
        self.index = index
        frameCount = index.frameCount
    }

    /// Decodes the frames at `indices` (any order, repeats allowed) and returns them in that order.
    /// - Throws: `VideoError.indexOutOfRange` for an index outside `0..<frameCount` (before decoding
    ///   anything), `corruptStream` when decoding fails or the stream ends early, `frameTooLarge`.
    public func frames(at indices: [Int]) throws -> [RGBFrame] {
        var statistics = ReadStatistics()
        return try frames(at: indices, allowSeeking: true, statistics: &statistics)
    }

    /// `frames(at:)` with seeking optional and the work done reported (for tests).
    func frames(at indices: [Int], allowSeeking: Bool, statistics: inout ReadStatistics) throws -> [RGBFrame] {
        for index in indices where index < 0 || index >= frameCount {
            throw VideoError.indexOutOfRange(path: path, index: index, frameCount: frameCount)
        }
        if indices.isEmpty { return [] }
        let wanted = Set(indices)
        var decoded: [Int: RGBFrame]? = nil
        if allowSeeking && index.isSeekable {
            do {
                decoded = try FrameReads.fromKeyframes(path: path, maxPixels: maxPixels, index: index, wanted: wanted,
                                                       statistics: &statistics)
            } catch is UnplaceableFrame {
                statistics.restartedFromFirstFrame = true
            } catch VideoError.corruptStream {
                // Damage met after a seek is confirmed (or not) by reading from the first frame.
                statistics.restartedFromFirstFrame = true
            }
        }
        let frames = try decoded ?? FrameReads.fromFirstFrame(path: path, maxPixels: maxPixels, wanted: wanted,
                                                               statistics: &statistics)
        return try indices.map { index in
            guard let frame = frames[index] else {
                throw VideoError.corruptStream(path: path, detail: "frame \(index) was not decoded")
            }
            return frame
        }
    }

    /// `avg_frame_rate`, else `r_frame_rate`, else 0.
    private static func framesPerSecond(_ stream: AVStream) -> Double {
        for rate in [stream.avg_frame_rate, stream.r_frame_rate] where rate.num > 0 && rate.den > 0 {
            return Double(rate.num) / Double(rate.den)
        }
        return 0
    }
}
