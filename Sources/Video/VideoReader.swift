import CFFmpeg

/// Reads frames of a video file (any container and codec Debian's FFmpeg 5.1 decodes: MP4/H.264,
/// WebM/VP9, AVI/MJPEG, MKV/FFV1, ...) as packed RGB24, frame-exactly.
///
/// Opening reads the whole file once without decoding to count the video stream's packets: that count is
/// `frameCount`, as in decord (whose `len()` is the size of its packet index) and equal to the number of
/// decoded frames for codecs that carry one frame per packet, which is every common one. Containers that
/// do not store a frame count (Matroska, WebM, raw streams) therefore still get an exact count, with no
/// duration x fps estimate. `frames(at:)` decodes from the first frame forward — no seeking — so frame
/// `i` is always the `i`-th frame the decoder outputs.
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
        var packets = 0
        while try input.nextPacket() != nil { packets += 1 }
        if packets == 0 { throw VideoError.corruptStream(path: path, detail: "the video stream holds no frames") }
        frameCount = packets
    }

    /// Decodes the frames at `indices` (any order, repeats allowed) and returns them in that order.
    /// Decoding runs once from the start of the stream up to the largest index.
    /// - Throws: `VideoError.indexOutOfRange` for an index outside `0..<frameCount` (before decoding
    ///   anything), `corruptStream` when decoding fails or the stream ends early, `frameTooLarge`.
    public func frames(at indices: [Int]) throws -> [RGBFrame] {
        for index in indices where index < 0 || index >= frameCount {
            throw VideoError.indexOutOfRange(path: path, index: index, frameCount: frameCount)
        }
        guard let last = indices.max() else { return [] }
        let wanted = Set(indices)
        let input = try DemuxedInput(path: path, maxPixels: maxPixels)
        let decoder = try StreamDecoder(for: input, maxPixels: maxPixels)
        let converter = RGBConverter(path: path, maxPixels: maxPixels)
        var decoded: [Int: RGBFrame] = [:]
        var nextIndex = 0
        let collect: (UnsafeMutablePointer<AVFrame>) throws -> Void = { frame in
            if wanted.contains(nextIndex) { decoded[nextIndex] = try converter.convert(frame) }
            nextIndex += 1
        }
        while nextIndex <= last, let packet = try input.nextPacket() {
            try decoder.decode(packet, collect)
        }
        if nextIndex <= last { try decoder.decode(nil, collect) }
        if nextIndex <= last {
            throw VideoError.corruptStream(
                path: path, detail: "the stream ended after \(nextIndex) decoded frames; frame \(last) was requested")
        }
        return indices.map { decoded[$0]! }
    }

    /// `avg_frame_rate`, else `r_frame_rate`, else 0.
    private static func framesPerSecond(_ stream: AVStream) -> Double {
        for rate in [stream.avg_frame_rate, stream.r_frame_rate] where rate.num > 0 && rate.den > 0 {
            return Double(rate.num) / Double(rate.den)
        }
        return 0
    }
}
