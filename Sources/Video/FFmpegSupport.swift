import CFFmpeg

/// Process-wide FFmpeg settings and error text.
enum FFmpegSupport {
    /// Silences FFmpeg's own logging (it would write to stderr); problems reach callers as `VideoError`s.
    /// Runs once per process.
    static let silenceLogging: Void = {
        av_log_set_level(AV_LOG_QUIET)
    }()

    /// FFmpeg's text for an `AVERROR` code, e.g. "Invalid data found when processing input".
    static func errorText(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        if av_strerror(code, &buffer, buffer.count) < 0 {
            return "FFmpeg error \(code)"
        }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
