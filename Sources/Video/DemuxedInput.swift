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
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw VideoError.fileNotFound(path: path)
        }
        if isDirectory.boolValue { throw VideoError.notAVideo(path: path, reason: "it is a directory") }
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
            throw VideoError.notAVideo(path: path, reason: "a still image (\(containerName)), not a video")
        }

        let infoStatus = avformat_find_stream_info(opened, nil)
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
        let width = Int(parameters.width), height = Int(parameters.height)
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
