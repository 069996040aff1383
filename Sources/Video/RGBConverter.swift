import CFFmpeg

/// Converts decoded frames of any pixel format to packed RGB24 with libswscale, honouring each frame's
/// YUV matrix (BT.601, BT.709, ...) and range (limited or full).
///
/// Flags: bicubic, `SWS_ACCURATE_RND` and `SWS_FULL_CHR_H_INT` (chroma interpolated to full resolution
/// before the matrix, instead of the fast table path that repeats chroma samples), and `SWS_BITEXACT`
/// so the result does not depend on which SIMD code libswscale picks on this CPU. The output equals the
/// ffmpeg CLI's with `-sws_flags bicubic+accurate_rnd+full_chroma_int+bitexact` (tested). decord converts
/// with FFmpeg's default flags, so on YUV input its pixels may differ from these by a few levels (up to
/// about 10 on the test videos between the default and these flags); RGB input (ffv1/png in bgr0, rgb24,
/// gbrp) converts exactly either way.
final class RGBConverter {
    private static let flags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_BITEXACT

    private struct Source: Equatable {
        var width: Int32, height: Int32, format: Int32, colorspace: Int32, fullRange: Bool
    }

    private let path: String
    private let maxPixels: Int
    private var source: Source?
    private var scaler: ScalerHandle?
    private var output: FrameHandle?

    init(path: String, maxPixels: Int) {
        self.path = path
        self.maxPixels = maxPixels
    }

    /// Converts one decoded frame.
    func convert(_ frame: UnsafeMutablePointer<AVFrame>) throws -> RGBFrame {
        let width = Int(frame.pointee.width), height = Int(frame.pointee.height)
        if width * height > maxPixels {
            throw VideoError.frameTooLarge(path: path, width: width, height: height, maxPixels: maxPixels)
        }
        guard width > 0, height > 0, frame.pointee.format >= 0 else {
            throw VideoError.corruptStream(path: path, detail: "the decoder returned an empty frame")
        }
        try prepare(for: frame)
        guard let scaler, let output = output?.pointer else {
            throw VideoError.corruptStream(path: path, detail: "no pixel converter")
        }
        let lines = cffmpeg_scale_frame(scaler.pointer, frame, output)
        if lines != Int32(height) {
            throw VideoError.corruptStream(path: path, detail: "pixel conversion wrote \(lines) of \(height) rows")
        }
        let rowBytes = width * 3
        let stride = Int(cffmpeg_frame_stride0(output))
        let plane = cffmpeg_frame_plane0(output)!
        let pixels = [UInt8](unsafeUninitializedCapacity: rowBytes * height) { buffer, count in
            for row in 0..<height {
                (buffer.baseAddress! + row * rowBytes).initialize(from: plane + row * stride, count: rowBytes)
            }
            count = rowBytes * height
        }
        return RGBFrame(width: width, height: height, pixels: pixels)
    }

    /// Makes the scaler and the output frame match `frame`'s size, format, matrix and range.
    private func prepare(for frame: UnsafeMutablePointer<AVFrame>) throws {
        let format = AVPixelFormat(rawValue: frame.pointee.format)
        let fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG || Self.isFullRangeFormat(format)
        let wanted = Source(width: frame.pointee.width, height: frame.pointee.height, format: frame.pointee.format,
                            colorspace: Int32(frame.pointee.colorspace.rawValue), fullRange: fullRange)
        if wanted == source, scaler != nil, output != nil { return }
        scaler = nil
        output = nil
        source = nil
        guard let context = sws_getContext(wanted.width, wanted.height, format, wanted.width, wanted.height,
                                           AV_PIX_FMT_RGB24, Self.flags, nil, nil, nil) else {
            let name = av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "format \(wanted.format)"
            throw VideoError.corruptStream(path: path, detail: "cannot convert pixel format \(name) to RGB")
        }
        let newScaler = ScalerHandle(context)
        if let descriptor = av_pix_fmt_desc_get(format), descriptor.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) == 0 {
            // YUV or gray input: the frame's matrix (unspecified -> BT.601, FFmpeg's default) and range;
            // output is full-range RGB.
            let matrix = sws_getCoefficients(wanted.colorspace)
            _ = sws_setColorspaceDetails(context, matrix, fullRange ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                         0, 1 << 16, 1 << 16)
        }
        guard let newOutput = FrameHandle(), let outputFrame = newOutput.pointer else {
            throw VideoError.corruptStream(path: path, detail: "out of memory")
        }
        outputFrame.pointee.format = AV_PIX_FMT_RGB24.rawValue
        outputFrame.pointee.width = wanted.width
        outputFrame.pointee.height = wanted.height
        let allocated = av_frame_get_buffer(outputFrame, 0)
        if allocated < 0 {
            throw VideoError.corruptStream(path: path, detail: "RGB buffer: \(FFmpegSupport.errorText(allocated))")
        }
        scaler = newScaler
        output = newOutput
        source = wanted
    }

    /// The deprecated JPEG ("yuvj") formats are full range by definition.
    private static func isFullRangeFormat(_ format: AVPixelFormat) -> Bool {
        [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUVJ411P]
            .contains(format)
    }
}
