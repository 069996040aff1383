// Internal: the per-CPU-level kernel table behind ck_matmul (one implementation file per level).
#ifndef CK_MATMUL_KERNELS_H
#define CK_MATMUL_KERNELS_H

#include <stdint.h>

#include "ck_matmul.h"
#include "ck_quant.h"

/// Rows of W one GEMV step reads at once (interleaved streams) and rows per small-M panel.
#define CK_GEMV_ROWS 8
/// Columns per decoded panel in the small-M path (multiple of 32).
#define CK_PANEL_COLS 512
/// Rows of X per small-M micro-kernel step.
#define CK_DOT_MR 4
/// Panel rows per small-M micro-kernel step.
#define CK_DOT_NR 4
/// Largest M the fused small-M ("skinny") kernels take.
#define CK_SKINNY_MAX_M 32
/// Weight rows a skinny kernel streams at once.
#define CK_SKINNY_ROWS 4
/// Most columns per decoded skinny panel (multiple of 32).
#define CK_SKINNY_MAX_CHUNK 512

/// Columns per skinny chunk for M rows of X: the packed X chunk (m * cols floats) stays within 16 KiB and the
/// panel within 8 KiB, so both stay in a 32 KiB L1; between 128 and CK_SKINNY_MAX_CHUNK, a multiple of 32 (so
/// quantized blocks are never split).
static inline int64_t ck_skinny_chunk_cols(int64_t m) {
    int64_t cols = 4096 / (m > 0 ? m : 1) / 32 * 32;
    if (cols < 128) cols = 128;
    if (cols > CK_SKINNY_MAX_CHUNK) cols = CK_SKINNY_MAX_CHUNK;
    return cols;
}

/// Floats of X packed for the skinny kernels: chunk by chunk of `kc` columns, each chunk's m rows contiguous
/// (xpack[k0 * m + i * kc + c] = x[i * cols + k0 + c]), so a chunk is one contiguous L1-resident block whatever
/// the row stride (a stride that is a multiple of 4 KiB would put every row in the same L1 sets).
static inline int64_t ck_skinny_packed_floats(int64_t m, int64_t cols, int64_t kc) {
    return (cols + kc - 1) / kc * kc * m;
}

typedef struct {
    /// Decodes rows [row0, row0 + nrows) and columns [k0, k0 + kb) of W to dst[r * ldd + k - k0].
    /// For quantized formats k0 % 32 == 0 and kb % 32 == 0.
    void (*decode)(const ck_weights *w, int64_t row0, int64_t nrows, int64_t k0, int64_t kb, float *dst,
                   int64_t ldd);
    /// out[r] = dot(x, W[row0 + r]) over all columns, for r < nrows (any count).
    void (*gemv)(const ck_weights *w, const float *x, int64_t row0, int64_t nrows, float *out);
    /// acc[i * ldacc + j] += dot(x[i * ldx ..< i * ldx + kb], panel[j * ldp ..< j * ldp + kb]) for
    /// i < m (<= CK_DOT_MR), j < n (<= CK_DOT_NR).
    void (*dot)(const float *x, int64_t ldx, int m, const float *panel, int64_t ldp, int n, int64_t kb,
                float *acc, int64_t ldacc);
    /// Fused small M (2..CK_SKINNY_MAX_M): y[i * ldy + r] = dot(x row i, W[row0 + r]) (or += with
    /// `accumulate`) for i < m, r < nrows, reading each weight row once. `xpack` holds X packed in chunks of
    /// `kc` = ck_skinny_chunk_cols(m) columns (see ck_skinny_packed_floats). NULL where the level has none.
    void (*skinny)(const ck_weights *w, const float *xpack, int64_t m, int64_t kc, int64_t row0, int64_t nrows,
                   float *y, int64_t ldy, int accumulate);
} ck_matmul_kernels;

/// M = 1 with q4_0 weights at CK_LEVEL_AVX512 and up (ck_matmul_avx512.c): X is arranged once per call into
/// ck_gemv_q4x_floats(k) floats (64-byte aligned) by ck_gemv_q4x_prepare_avx512, then
/// out[r] = dot(x, W[row0 + r]) for r < nrows.
int64_t ck_gemv_q4x_floats(int64_t k);
void ck_gemv_q4x_prepare_avx512(const float *x, int64_t k, float *xa);
void ck_gemv_q4x_avx512(const ck_weights *w, const float *xa, int64_t row0, int64_t nrows, float *out);

/// The skinny kernels (one file per level).
void ck_skinny_avx512(const ck_weights *w, const float *xpack, int64_t m, int64_t kc, int64_t row0,
                      int64_t nrows, float *y, int64_t ldy, int accumulate);
void ck_skinny_avx2(const ck_weights *w, const float *xpack, int64_t m, int64_t kc, int64_t row0, int64_t nrows,
                    float *y, int64_t ldy, int accumulate);

// ---- int8 activations (CK_PRECISION_FAST against q8_0 / q4_0 weights) ----------------------------------------
//
// X is quantized once per call, block by block (32 values of a row): d = max|x| / 127 (f32), q = x / d rounded
// to nearest even, in [-127, 127] (all zero when d = 0). Each block of W then meets its block of X as an integer
// dot product (vpdpbusd): y += d_w * d_x * (float)sum(w_q * x_q).
//
// Two layouts of the quantized X:
//   rows   (M < CK_Q8ACT_LANES_MIN_M) each row on its own: f32 scales, then the quants (q8_0 weights: q + 128 as
//          u8, so the weights can be the signed operand; q4_0 weights: q in the nibbles' order, 4 blocks per
//          128 bytes, plus -8 * sum(q) per block), each row padded to 64 bytes;
//   lanes  (M >= CK_Q8ACT_LANES_MIN_M) 16 rows of X side by side, one per 32-bit lane: per block 8 x 64 bytes
//          (4 columns of each of the 16 rows), the 16 rows' scales and their offsets (-c * sum(q), c = 128 for
//          q8_0, 8 for q4_0), so that 4 weight bytes broadcast to every lane meet 16 rows at once.

/// Smallest M that uses the lanes layout (and the skinny kernel built on it).
#ifndef CK_Q8ACT_LANES_MIN_M
#define CK_Q8ACT_LANES_MIN_M 5
#endif
/// Rows of X per group of the lanes layout.
#define CK_Q8ACT_LANES 16

/// Where each part of the quantized X lives (bytes from the start of the buffer, which is 64-byte aligned).
typedef struct {
    int format;           ///< CK_FORMAT_Q8_0 or CK_FORMAT_Q4_0: the weights it is laid out for
    int lanes;            ///< 1: the lanes layout, 0: the rows layout
    int64_t m, k, nb;     ///< rows and columns of X, blocks per row
    int64_t nb16;         ///< nb rounded up to 16 (scales are padded with zeros to it)
    int64_t unit_bytes;   ///< rows layout: bytes per X row; lanes layout: bytes per group of 16 rows
    int64_t quant_offset; ///< within a unit: where the quants start (the scales come first)
    int64_t extra_offset; ///< within a unit: q4_0 offsets (rows layout) or the lanes layout's offsets
    int64_t bytes;        ///< the whole buffer
} ck_q8act_layout;

/// The layout for M rows of X with K columns (K % 32 == 0) against weights in `format`.
static inline ck_q8act_layout ck_q8act_layout_for(int format, int64_t m, int64_t k) {
    ck_q8act_layout l;
    l.format = format;
    l.m = m;
    l.k = k;
    l.nb = k / 32;
    l.lanes = m >= CK_Q8ACT_LANES_MIN_M;
    if (l.lanes) {
        l.nb16 = l.nb;
        l.quant_offset = l.nb * 64;               // 16 f32 scales per block
        l.extra_offset = l.quant_offset + l.nb * 512;
        l.unit_bytes = l.extra_offset + l.nb * 64;  // 16 int32 offsets per block
        l.bytes = (m + CK_Q8ACT_LANES - 1) / CK_Q8ACT_LANES * l.unit_bytes;
    } else {
        l.nb16 = (l.nb + 15) / 16 * 16;
        l.quant_offset = l.nb16 * 4;
        if (format == CK_FORMAT_Q4_0) {
            int64_t groups = (l.nb + 3) / 4;
            l.extra_offset = l.quant_offset + groups * 128;
            l.unit_bytes = l.extra_offset + groups * 64;
        } else {
            l.extra_offset = l.quant_offset + (l.nb + 1) / 2 * 64;
            l.unit_bytes = l.extra_offset;
        }
        l.bytes = m * l.unit_bytes;
    }
    return l;
}

/// Quantizes X (m rows of k floats, dense) into `dst` (64-byte aligned, layout->bytes) as `layout` says.
void ck_q8act_quantize_avx512(const ck_q8act_layout *layout, const float *x, void *dst);
/// M = 1 (rows layout): out[r] = dot(x, W[row0 + r]) for r < nrows.
void ck_q8act_gemv_avx512(const ck_weights *w, const ck_q8act_layout *layout, const void *xq, int64_t row0,
                          int64_t nrows, float *out);
/// 2 <= M <= CK_SKINNY_MAX_M, either layout: y[i * ldy + row0 + r] = dot(x row i, W[row0 + r]) (or += with
/// `accumulate`) for i < M, r < nrows; each weight row is read from memory once.
void ck_q8act_skinny_avx512(const ck_weights *w, const ck_q8act_layout *layout, const void *xq, int64_t row0,
                            int64_t nrows, float *y, int64_t ldy, int accumulate);

/// The AVX2 int8-activation kernels (no VNNI): X quantized the same way, one row after another (f32 scales, int32
/// sums of the quants, then the quants in column order; each row padded to 64 bytes).
int64_t ck_q8act_avx2_bytes(int64_t m, int64_t k);
void ck_q8act_quantize_avx2(const float *x, int64_t m, int64_t k, void *dst);
/// Any M (1..CK_SKINNY_MAX_M): y[i * ldy + r] = dot(x row i, W[r]) (or += with `accumulate`) for i < m and
/// row0 <= r < row0 + nrows; weight rows are read from memory once.
void ck_q8act_matmul_avx2(const ck_weights *w, const void *xq, int64_t m, int64_t row0, int64_t nrows, float *y,
                          int64_t ldy, int accumulate);

// ---- bf16 GEMM (AMX: ck_gemm_amx.c; the AVX512-BF16 peak: ck_gemm_avx512bf16.c) ------------------------

/// Rows of an A or C tile, columns of X per A tile (bf16 values), and values per packed tile.
#define CK_BF16_TILE_M 16
#define CK_BF16_TILE_K 32
#define CK_BF16_TILE_VALUES 512

/// One 32 x 32 block of C (two m-blocks of 16 rows x two n-blocks of 16 columns) over `nkb` K steps of 32:
/// c[i * ldc + j] (+)= sum over the `nterms` bf16 terms of A times B. A tiles (16 rows x 32 bf16, row-major)
/// for K step s, term t and m-block h are at a + h * a_next_m + (s * nterms + t) * 512; B tiles (16 pairs of K
/// x 16 columns x 2, the VNNI pair layout) for K step s and n-block h at b + h * b_next_n + s * 512. With
/// `load_c` zero C starts from zero, else from what c holds.
typedef void (*ck_bf16_block_fn)(const uint16_t *a, int64_t a_next_m, const uint16_t *b, int64_t b_next_n,
                                 int64_t nkb, int nterms, float *c, int64_t ldc, int load_c);

/// ck_bf16_peak_run at CK_LEVEL_AVX512_BF16: vdpbf16ps on registers only.
double ck_bf16_peak_avx512bf16(ck_pool *pool, int64_t iterations);

/// Whether ck_gemm_bf16 has a kernel for this (already clamped) level and precision: AMX tiles at CK_LEVEL_AMX,
/// in both precisions. (AVX512-BF16 alone keeps decode + sgemm: see ck_gemm_avx512bf16.c.)
int ck_gemm_bf16_available(ck_level level, ck_precision precision);

/// The bf16 GEMM path of ck_matmul (w->format == CK_FORMAT_BF16, ck_gemm_bf16_available): packs X once per
/// call into bf16 tiles (three terms in exact precision, one in fast) in the pool's shared buffer, then each
/// task packs its W panel into the VNNI pair layout and runs the AMX 32 x 32 block kernel.
ck_matmul_status ck_gemm_bf16(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                              int accumulate, ck_level level, ck_precision precision);

// ---- f32 GEMM for large M (ck_gemm_f32_avx512.c) ---------------------------------------------------------

/// Whether ck_gemm_f32 runs at this (already clamped) level: AVX-512 and up.
int ck_gemm_f32_available(ck_level level);

/// The large-M path of ck_matmul where AMX does not take it: packs X once per call (passes of at most 2048 rows)
/// into the pool's shared buffer, then each task decodes its rows of W straight into packed f32 micro-panels and
/// runs an AVX-512 FMA micro-kernel on them. Exact in both precisions (f32 products, f32 sums).
ck_matmul_status ck_gemm_f32(ck_pool *pool, const float *x, int64_t m, const ck_weights *w, float *y,
                             int accumulate);

const ck_matmul_kernels *ck_matmul_kernels_scalar(void);
/// NULL when the target is not x86-64.
const ck_matmul_kernels *ck_matmul_kernels_avx2(void);
/// NULL when the target is not x86-64.
const ck_matmul_kernels *ck_matmul_kernels_avx512(void);

#endif
