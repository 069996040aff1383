// FFmpeg's demuxing, decoding, pixel-conversion and utility libraries (Debian `libavformat-dev`,
// `libavcodec-dev`, `libswscale-dev`, `libavutil-dev`; pkg-config `libavformat`). Written against FFmpeg 5.1.
// The static inline helpers cover what Swift cannot import: function-like error macros and a `sws_scale`
// call whose plane arrays are C arrays inside `AVFrame`.
#ifndef INTERNVL_CFFMPEG_SHIM_H
#define INTERNVL_CFFMPEG_SHIM_H
#include <errno.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/avutil.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

/// `AVERROR(EAGAIN)`: the decoder wants more input, or has output to drain first.
static inline int cffmpeg_error_again(void) { return AVERROR(EAGAIN); }

/// `AVERROR_EOF`: end of file or a fully drained decoder.
static inline int cffmpeg_error_eof(void) { return AVERROR_EOF; }

/// `AVERROR_DECODER_NOT_FOUND`: the stream's codec has no decoder in this FFmpeg build.
static inline int cffmpeg_error_decoder_not_found(void) { return AVERROR_DECODER_NOT_FOUND; }

/// `AV_NOPTS_VALUE`: no timestamp.
static inline int64_t cffmpeg_no_timestamp(void) { return AV_NOPTS_VALUE; }

/// Converts a whole decoded frame into `dst` (already allocated with the context's output size and format).
static inline int cffmpeg_scale_frame(struct SwsContext *context, const AVFrame *src, AVFrame *dst) {
    return sws_scale(context, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
                     dst->data, dst->linesize);
}

/// The first plane of a frame (Swift imports `AVFrame.data` as a tuple).
static inline uint8_t *cffmpeg_frame_plane0(const AVFrame *frame) { return frame->data[0]; }

/// The byte stride of a frame's first plane.
static inline int cffmpeg_frame_stride0(const AVFrame *frame) { return frame->linesize[0]; }
#endif
