/// Why a video could not be opened or a frame could not be read; each case names the file it is about.
public enum VideoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing (or no regular file) exists at the path.
    case fileNotFound(path: String)
    /// FFmpeg recognises no container in the file, or it is a still image (which `VideoReader` refuses).
    case notAVideo(path: String, reason: String)
    /// The container holds no video stream (cover art attached to audio does not count).
    case noVideoStream(path: String)
    /// This FFmpeg build has no decoder for the stream's codec.
    case unsupportedCodec(path: String, codec: String)
    /// The container or the compressed stream is damaged or truncated.
    case corruptStream(path: String, detail: String)
    /// A requested frame index lies outside `0..<frameCount`.
    case indexOutOfRange(path: String, index: Int, frameCount: Int)
    /// A frame has more pixels than the reader's limit.
    case frameTooLarge(path: String, width: Int, height: Int, maxPixels: Int)

    /// The file the error is about.
    public var path: String {
        switch self {
        case .fileNotFound(let path), .notAVideo(let path, _), .noVideoStream(let path),
             .unsupportedCodec(let path, _), .corruptStream(let path, _), .indexOutOfRange(let path, _, _),
             .frameTooLarge(let path, _, _, _):
            return path
        }
    }

    /// One line naming the file and the problem.
    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): video file not found"
        case .notAVideo(let path, let reason):
            return "\(path): not a video (\(reason))"
        case .noVideoStream(let path):
            return "\(path): the file has no video stream"
        case .unsupportedCodec(let path, let codec):
            return "\(path): no decoder for video codec '\(codec)' in this FFmpeg build"
        case .corruptStream(let path, let detail):
            return "\(path): corrupt or truncated video stream (\(detail))"
        case .indexOutOfRange(let path, let index, let frameCount):
            return "\(path): frame index \(index) is out of range 0..<\(frameCount)"
        case .frameTooLarge(let path, let width, let height, let maxPixels):
            return "\(path): frame of \(width)x\(height) = \(width * height) pixels exceeds the limit of \(maxPixels) pixels"
        }
    }
}
