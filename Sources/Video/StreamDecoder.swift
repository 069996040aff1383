import CFFmpeg

/// A libavcodec decoder for the video stream of a `DemuxedInput`: packets in, frames out in display order.
final class StreamDecoder {
    private let path: String
    private let maxPixels: Int
    private let codec: CodecContextHandle
    private let frame: FrameHandle

    /// Opens a decoder for `input`'s video stream that refuses frames over `maxPixels`.
    init(for input: DemuxedInput, maxPixels: Int) throws {
        path = input.path
        self.maxPixels = maxPixels
        guard let context = avcodec_alloc_context3(input.decoder), let frame = FrameHandle() else {
            throw VideoError.corruptStream(path: input.path, detail: "out of memory")
        }
        codec = CodecContextHandle(context)
        self.frame = frame
        let copied = avcodec_parameters_to_context(context, input.stream.pointee.codecpar)
        if copied < 0 {
            throw VideoError.corruptStream(path: input.path, detail: "codec parameters: \(FFmpegSupport.errorText(copied))")
        }
        context.pointee.pkt_timebase = input.stream.pointee.time_base
        context.pointee.max_pixels = Int64(maxPixels)
        context.pointee.thread_count = 0  // FFmpeg picks one thread per core; output does not depend on it.
        let opened = avcodec_open2(context, input.decoder, nil)
        if opened < 0 {
            let name = String(cString: avcodec_get_name(context.pointee.codec_id))
            throw VideoError.corruptStream(path: input.path,
                                           detail: "opening the \(name) decoder: \(FFmpegSupport.errorText(opened))")
        }
    }

    /// Sends one packet (nil flushes the decoder at the end of the stream) and passes every frame that
    /// becomes ready to `body`; the frame is only valid during the call.
    func decode(_ packet: UnsafeMutablePointer<AVPacket>?, _ body: (UnsafeMutablePointer<AVFrame>) throws -> Void) throws {
        guard let context = codec.pointer, let frame = frame.pointer else { return }
        while true {
            let sent = avcodec_send_packet(context, packet)
            if sent < 0 && sent != cffmpeg_error_again() && sent != cffmpeg_error_eof() {
                throw failure(context, "decoding a packet", sent)
            }
            var received = 0
            while true {
                let status = avcodec_receive_frame(context, frame)
                if status == cffmpeg_error_again() || status == cffmpeg_error_eof() { break }
                if status < 0 { throw failure(context, "decoding a frame", status) }
                received += 1
                defer { av_frame_unref(frame) }
                try body(frame)
            }
            // EAGAIN from send means output had to be drained first; the packet is then sent again.
            if sent != cffmpeg_error_again() { return }
            if received == 0 {
                throw VideoError.corruptStream(path: path, detail: "the decoder accepts no input and gives no output")
            }
        }
    }

    /// Drops all buffered packets and frames (after a seek), and leaves the draining state after a flush.
    func reset() {
        if let context = codec.pointer { avcodec_flush_buffers(context) }
    }

    /// The error for a failed decoder call: an oversized frame if that is what stopped it, else a corrupt stream.
    private func failure(_ context: UnsafeMutablePointer<AVCodecContext>, _ step: String, _ status: Int32) -> VideoError {
        let width = Int(context.pointee.width), height = Int(context.pointee.height)
        if width * height > maxPixels {
            return .frameTooLarge(path: path, width: width, height: height, maxPixels: maxPixels)
        }
        return .corruptStream(path: path, detail: "\(step): \(FFmpegSupport.errorText(status))")
    }
}
