import CFFmpeg

// Owners of FFmpeg objects: each frees its object exactly once when released, so every path out of a
// function (return or throw) frees what it allocated.

/// Owns an opened `AVFormatContext` (closed with `avformat_close_input`).
final class FormatContextHandle {
    private(set) var pointer: UnsafeMutablePointer<AVFormatContext>?

    init(_ pointer: UnsafeMutablePointer<AVFormatContext>) { self.pointer = pointer }

    deinit { avformat_close_input(&pointer) }
}

/// Owns an `AVCodecContext` (freed with `avcodec_free_context`).
final class CodecContextHandle {
    private(set) var pointer: UnsafeMutablePointer<AVCodecContext>?

    init(_ pointer: UnsafeMutablePointer<AVCodecContext>) { self.pointer = pointer }

    deinit { avcodec_free_context(&pointer) }
}

/// Owns an `AVPacket` (freed with `av_packet_free`, which also drops its data reference).
final class PacketHandle {
    private(set) var pointer: UnsafeMutablePointer<AVPacket>?

    /// Allocates an empty packet; nil only when out of memory.
    init?() {
        guard let packet = av_packet_alloc() else { return nil }
        pointer = packet
    }

    deinit { av_packet_free(&pointer) }
}

/// Owns an `AVFrame` (freed with `av_frame_free`, which also drops its buffers).
final class FrameHandle {
    private(set) var pointer: UnsafeMutablePointer<AVFrame>?

    /// Allocates an empty frame; nil only when out of memory.
    init?() {
        guard let frame = av_frame_alloc() else { return nil }
        pointer = frame
    }

    deinit { av_frame_free(&pointer) }
}

/// Owns a libswscale `SwsContext` (freed with `sws_freeContext`); the opaque pointer never leaves this module.
final class ScalerHandle {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { sws_freeContext(pointer) }
}
