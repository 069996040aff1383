import CFFmpeg
import Foundation

/// A video file opened by libavformat with its video stream chosen; hands out that stream's packets in
/// file order. Only the `file` protocol is allowed, so a path can never make FFmpeg open a network URL.
final class DemuxedInput {
    /// The path as the caller gave it (used in every error).
    let path: String
    /// The chosen video stream.
    let stream: UnsafeMutablePointer<AVStream>
    /// The decoder for that stream's codec.
    let decoder: UnsafePointer<AVCodec>
    /// libavformat's short name of the container format, e.g. "matroska,webm".
    let containerName: String

    private let format: FormatContextHandle
    private let packet: PacketHandle

    /// Opens `path`, refuses still images, picks the video stream and checks its size against `maxPixels`.
    init(path: String, maxPixels: Int) throws {
        _ = FFmpegSupport.silenceLogging
        self.path = path
        // Regular files only (symbolic links followed): a FIFO or a device could block or never end.
        var status = stat()
        guard stat(path, &status) == 0 else { throw VideoError.fileNotFound(path: path) }
        let fileType = status.st_mode & S_IFMT
        if fileType == S_IFDIR { throw VideoError.notAVideo(path: path, reason: "it is a directory") }
        if fileType != S_IFREG { throw VideoError.notAVideo(path: path, reason: "not a regular file") }
        guard let packet = PacketHandle() else { throw VideoError.corruptStream(path: path, detail: "out of memory") }
        self.packet = packet

        var options: OpaquePointer? = nil
        av_dict_set(&options, "protocol_whitelist", "file", 0)
        defer { av_dict_free(&options) }
        var opened: UnsafeMutablePointer<AVFormatContext>? = nil
        let openStatus = avformat_open_input(&opened, "file:" + path, nil, &options)
        guard openStatus >= 0, let opened else {
            throw VideoError.notAVideo(path: path, reason: FFmpegSupport.errorText(openStatus))
        }
        format = FormatContextHandle(opened)

        let containerName = opened.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "unknown"
        self.containerName = containerName
        // libavformat opens single images through its image2 demuxers ("image2", "png_pipe", "jpeg_pipe", ...)
        // as one-frame videos; a still image is refused here so images and videos keep separate paths.
        if containerName == "image2" || containerName.hasSuffix("_pipe") {
            throw VideoError.notAVideo(path: path, reason: "a still image (\(containerName))")
        }

        // The decoders FFmpeg runs while probing get the pixel limit too. A probe decoder over the limit
        // zeroes the stream's size, so the sizes the headers declare are kept to check against the limit.
        let streamCount = Int(opened.pointee.nb_streams)
        let declaredSizes = (0..<streamCount).map { i -> (width: Int, height: Int) in
            guard let parameters = opened.pointee.streams[i]?.pointee.codecpar?.pointee else { return (0, 0) }
            return (Int(parameters.width), Int(parameters.height))
        }
        var probeOptions = [OpaquePointer?](repeating: nil, count: max(streamCount, 1))
        for i in 0..<streamCount { av_dict_set(&probeOptions[i], "max_pixels", String(maxPixels), 0) }
        defer { for i in 0..<streamCount { av_dict_free(&probeOptions[i]) } }
        let infoStatus = avformat_find_stream_info(opened, &probeOptions)
        if infoStatus < 0 {
            throw VideoError.corruptStream(path: path, detail: "reading stream info: \(FFmpegSupport.errorText(infoStatus))")
        }

        let index = av_find_best_stream(opened, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard index >= 0, let chosen = opened.pointee.streams[Int(index)],
              chosen.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else {
            throw VideoError.noVideoStream(path: path)
        }
        stream = chosen
        let parameters = chosen.pointee.codecpar!.pointee
        guard let decoder = avcodec_find_decoder(parameters.codec_id) else {
            throw VideoError.unsupportedCodec(path: path, codec: String(cString: avcodec_get_name(parameters.codec_id)))
        }
        self.decoder = decoder
        let declared = Int(index) < declaredSizes.count ? declaredSizes[Int(index)] : (width: 0, height: 0)
        let probed = (width: Int(parameters.width), height: Int(parameters.height))
        let (width, height) = declared.width * declared.height > probed.width * probed.height ? declared : probed
        if width * height > maxPixels {
            throw VideoError.frameTooLarge(path: path, width: width, height: height, maxPixels: maxPixels)
        }
        // Only the video stream's packets are read.
        for other in 0..<Int(opened.pointee.nb_streams) where other != Int(index) {
            opened.pointee.streams[other]?.pointee.discard = AVDISCARD_ALL
        }
    }

    /// The stream's codec parameters (size, pixel format, codec id).
    var parameters: AVCodecParameters { stream.pointee.codecpar.pointee }

    /// Moves the read position to the last keyframe at or before `timestamp` (stream time base).
    /// Returns false when the container cannot seek there.
    func seek(to timestamp: Int64) -> Bool {
        guard let context = format.pointer else { return false }
        return av_seek_frame(context, stream.pointee.index, timestamp, AVSEEK_FLAG_BACKWARD) >= 0
    }

    /// Reads the next packet of the video stream; nil at the end of the file. The packet stays valid until
    /// the next call. A read error or a packet the demuxer marks as cut short is a `corruptStream` error.
    func nextPacket() throws -> UnsafeMutablePointer<AVPacket>? {
        guard let context = format.pointer, let packet = packet.pointer else { return nil }
        while true {
            av_packet_unref(packet)
            let status = av_read_frame(context, packet)
            if status == cffmpeg_error_eof() { return nil }
            if status < 0 {
                throw VideoError.corruptStream(path: path, detail: "reading a packet: \(FFmpegSupport.errorText(status))")
            }
            guard packet.pointee.stream_index == stream.pointee.index else { continue }
            if packet.pointee.flags & AV_PKT_FLAG_CORRUPT != 0 {
                throw VideoError.corruptStream(path: path, detail: "packet at byte \(packet.pointee.pos) is cut short")
            }
            return packet
        }
    }
}
