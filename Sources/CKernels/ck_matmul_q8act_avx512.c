// int8-activation matmul kernels on AVX512-VNNI (CK_PRECISION_FAST against q8_0 / q4_0 weights): X is quantized
// to blocks of 32 int8 values once per call (ck_matmul_kernels.h describes the two layouts), and each weight block
// meets its X block as an integer dot product (vpdpbusd: unsigned bytes times signed bytes, summed in fours into
// 32-bit lanes), scaled by d_w * d_x and summed in f32.
//
// vpdpbusd needs one unsigned operand:
//   q4_0  the nibbles u (0..15) are the unsigned operand as they are; u - 8 is the weight, so each block's sum
//         carries 8 * sum(x_q) too much, taken off by starting the block's accumulator at -8 * sum(x_q);
//   q8_0  rows layout (M <= 4): X is stored as x_q + 128 (unsigned), the weights are the signed operand, and
//         128 * sum(w_q) (one more vpdpbusd per weight vector, shared by every row of X) is taken off;
//         lanes layout (M >= 5): the weights become w_q + 128 (unsigned) in an L1 buffer, X stays signed, and the
//         accumulator starts at -128 * sum(x_q).
// Every integer sum is exact (at most 32 * 255 * 127 per block), so the only roundings are the f32 scale product
// and the f32 sums, as in a decode-then-multiply kernel.
//
// Only this file's functions use VNNI, through per-function target attributes; ck_matmul selects them only at
// CK_LEVEL_AVX512_BF16 and above (which imply VNNI).
#include "ck_matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define CK_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))
#define CK_INLINE static inline __attribute__((always_inline))
/// Weight rows streamed at once by the GEMV.
#define CK_Q8ACT_GEMV_ROWS 8
/// Weight rows per step of the skinny kernels.
#define CK_Q8ACT_SKINNY_ROWS 4
/// Bytes ahead of each weight row's next load that the rows-layout kernels prefetch. With the hardware
/// prefetchers alone a thread reached about 80% of its share of the read bandwidth (the integer work between
/// loads leaves the streams idle); prefetching 256-512 bytes ahead was 10-20% faster in A/B runs on a loaded
/// 2-core Sapphire Rapids VM (q4_0 and q8_0, K = 4096, N = 14336, 2 threads); no prefetch never won.
#ifndef CK_Q8ACT_PREFETCH
#define CK_Q8ACT_PREFETCH 384
#endif
/// The GEMV (one row of X) instead prefetches into L2 the same bytes of the row CK_Q8ACT_GEMV_ROWS further on (the
/// next group's row), as the exact GEMV does (ck_matmul_avx512.c says why): in A/B runs (2 threads, the shapes of
/// bench kernels, weights cycled through 1 GiB, loaded VM) 0.67-0.79 -> 0.79-0.84 of read bandwidth for q4_0 and
/// 0.79-0.87 -> 0.83-0.92 for q8_0.
#define CK_Q8ACT_PREFETCH_ROW(q, MR, row_bytes)                                                    \
    do {                                                                                           \
        if ((MR) == 1) _mm_prefetch((const char *)(q) + CK_Q8ACT_GEMV_ROWS * (row_bytes), _MM_HINT_T1); \
        else _mm_prefetch((const char *)(q) + CK_Q8ACT_PREFETCH, _MM_HINT_T0);                    \
    } while (0)
/// Blocks per chunk of the lanes-layout kernel (its weight buffer: CK_Q8ACT_SKINNY_ROWS x 16 x 32 bytes).
#define CK_Q8ACT_CHUNK_BLOCKS 16

// ---- quantizing X --------------------------------------------------------------------------------------------

// One block of 32 floats: q[0..31], its scale and the sum of its quants.
CK_VNNI CK_INLINE void ck_q8act_block(const float *x, int8_t *q, float *d, int32_t *sum) {
    __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    float dd = amax / 127.0f;
    if (!(dd > 0.0f)) {  // all zero (or NaN): the block contributes nothing
        memset(q, 0, 32);
        *d = 0.0f;
        *sum = 0;
        return;
    }
    __m512 vd = _mm512_set1_ps(dd);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    // Division (not a multiply by 1 / d) and the default round-to-nearest-even conversion.
    __m512i q0 = _mm512_min_epi32(hi, _mm512_max_epi32(lo, _mm512_cvtps_epi32(_mm512_div_ps(v0, vd))));
    __m512i q1 = _mm512_min_epi32(hi, _mm512_max_epi32(lo, _mm512_cvtps_epi32(_mm512_div_ps(v1, vd))));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtepi32_epi8(q1));
    *d = dd;
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
}

CK_VNNI void ck_q8act_quantize_avx512(const ck_q8act_layout *l, const float *x, void *dst) {
    uint8_t *base = dst;
    int8_t q[32];
    float d;
    int32_t sum;
    if (l->lanes) {
        int64_t groups = (l->m + CK_Q8ACT_LANES - 1) / CK_Q8ACT_LANES;
        memset(base, 0, (size_t)(groups * l->unit_bytes));  // absent rows of the last group stay zero
        int32_t offset = l->format == CK_FORMAT_Q4_0 ? 8 : 128;
        for (int64_t i = 0; i < l->m; i++) {
            uint8_t *unit = base + i / CK_Q8ACT_LANES * l->unit_bytes;
            int lane = (int)(i % CK_Q8ACT_LANES);
            float *scales = (float *)unit;
            int8_t *quants = (int8_t *)(unit + l->quant_offset);
            int32_t *offsets = (int32_t *)(unit + l->extra_offset);
            for (int64_t b = 0; b < l->nb; b++) {
                ck_q8act_block(x + i * l->k + b * 32, q, &d, &sum);
                scales[b * 16 + lane] = d;
                offsets[b * 16 + lane] = -offset * sum;
                for (int t = 0; t < 8; t++) memcpy(quants + b * 512 + t * 64 + lane * 4, q + t * 4, 4);
            }
        }
        return;
    }
    for (int64_t i = 0; i < l->m; i++) {
        uint8_t *unit = base + i * l->unit_bytes;
        float *scales = (float *)unit;
        memset(unit, 0, (size_t)l->unit_bytes);
        if (l->format == CK_FORMAT_Q8_0) {
            uint8_t *quants = unit + l->quant_offset;
            for (int64_t b = 0; b < l->nb; b++) {
                ck_q8act_block(x + i * l->k + b * 32, q, &d, &sum);
                scales[b] = d;
                for (int j = 0; j < 32; j++) quants[b * 32 + j] = (uint8_t)(q[j] + 128);
            }
        } else {
            // Per group of 4 blocks: 64 bytes of the blocks' first halves (16 each), then 64 of their second
            // halves, as a 64-byte load of q4_0 nibbles splits into low and high nibbles.
            int8_t *quants = (int8_t *)(unit + l->quant_offset);
            int32_t *offsets = (int32_t *)(unit + l->extra_offset);
            for (int64_t b = 0; b < l->nb; b++) {
                ck_q8act_block(x + i * l->k + b * 32, q, &d, &sum);
                scales[b] = d;
                int8_t *group = quants + b / 4 * 128 + b % 4 * 16;
                memcpy(group, q, 16);
                memcpy(group + 64, q + 16, 16);
                offsets[b / 4 * 16 + b % 4 * 4] = -8 * sum;
            }
        }
    }
}

// ---- rows layout: MR rows of X (up to 4) times R weight rows, vectors along K --------------------------------

// comb[i * R + r][0..15] = d_w * d_x for blocks [b0, b0 + 16) (zero past the last block).
CK_VNNI CK_INLINE void ck_q8act_combined_scales(const uint16_t *ws, int64_t nb, int R, const ck_q8act_layout *l,
                                                const uint8_t *xq, int MR, int64_t b0, float (*comb)[16]) {
    int64_t count = nb - b0 < 16 ? nb - b0 : 16;
    __mmask16 m = (__mmask16)((1u << count) - 1u);
    for (int r = 0; r < R; r++) {
        __m512 dw = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, ws + r * nb + b0));
        for (int i = 0; i < MR; i++) {
            __m512 dx = _mm512_load_ps((const float *)(xq + i * l->unit_bytes) + b0);
            _mm512_store_ps(comb[i * R + r], _mm512_mul_ps(dw, dx));
        }
    }
}

// q8_0: out[i * ldo + r] = dot(x row i, W[row + r]).
CK_VNNI CK_INLINE void ck_q8act_rows_q8(const ck_weights *w, const ck_q8act_layout *l, const uint8_t *xq, int MR,
                                        int64_t row, int R, float *out, int64_t ldo) {
    int64_t k = w->cols, nb = k / 32;
    const int8_t *wq = (const int8_t *)w->data + row * k;
    const uint16_t *ws = w->scales + row * nb;
    __m512 acc[4][CK_Q8ACT_GEMV_ROWS];
    for (int i = 0; i < MR; i++)
        for (int r = 0; r < R; r++) acc[i][r] = _mm512_setzero_ps();
    float comb[4 * CK_Q8ACT_GEMV_ROWS][16] __attribute__((aligned(64)));
    const __m512i c128 = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    // Lanes 0-7 hold the first block of a pair, 8-15 the second.
    const __m512i pair_lanes = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        ck_q8act_combined_scales(ws, nb, R, l, xq, MR, b0, comb);
        int64_t count = nb - b0 < 16 ? nb - b0 : 16;
        for (int64_t p = 0; p < count; p += 2) {
            __mmask64 mask = count - p >= 2 ? ~(__mmask64)0 : (__mmask64)0xffffffffu;
            __m512i idx = _mm512_add_epi32(pair_lanes, _mm512_set1_epi32((int)p));
            int64_t col = (b0 + p) * 32;
            __m512i xv[4];
            for (int i = 0; i < MR; i++) {
                xv[i] = _mm512_load_si512((const void *)(xq + i * l->unit_bytes + l->quant_offset + col));
            }
            for (int r = 0; r < R; r++) {
                __m512i wv = _mm512_maskz_loadu_epi8(mask, wq + r * k + col);
                CK_Q8ACT_PREFETCH_ROW(wq + r * k + col, MR, k);
                __m512i neg = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, c128, wv));
                for (int i = 0; i < MR; i++) {
                    __m512i dot = _mm512_dpbusd_epi32(neg, xv[i], wv);
                    __m512 s = _mm512_permutexvar_ps(idx, _mm512_load_ps(comb[i * R + r]));
                    acc[i][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, acc[i][r]);
                }
            }
        }
    }
    for (int i = 0; i < MR; i++)
        for (int r = 0; r < R; r++) out[i * ldo + r] = _mm512_reduce_add_ps(acc[i][r]);
}

// q4_0: as ck_q8act_rows_q8.
CK_VNNI CK_INLINE void ck_q8act_rows_q4(const ck_weights *w, const ck_q8act_layout *l, const uint8_t *xq, int MR,
                                        int64_t row, int R, float *out, int64_t ldo) {
    int64_t k = w->cols, nb = k / 32;
    const uint8_t *wq = (const uint8_t *)w->data + row * (k / 2);
    const uint16_t *ws = w->scales + row * nb;
    __m512 acc[4][CK_Q8ACT_GEMV_ROWS];
    for (int i = 0; i < MR; i++)
        for (int r = 0; r < R; r++) acc[i][r] = _mm512_setzero_ps();
    float comb[4 * CK_Q8ACT_GEMV_ROWS][16] __attribute__((aligned(64)));
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    // Lanes 4j..4j+3 hold block j of a group of 4.
    const __m512i group_lanes = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    for (int64_t b0 = 0; b0 < nb; b0 += 16) {
        ck_q8act_combined_scales(ws, nb, R, l, xq, MR, b0, comb);
        int64_t count = nb - b0 < 16 ? nb - b0 : 16;
        for (int64_t g = 0; g < count; g += 4) {
            int64_t blocks = count - g < 4 ? count - g : 4;
            __mmask64 mask = blocks == 4 ? ~(__mmask64)0 : (((__mmask64)1 << (16 * blocks)) - 1);
            __m512i idx = _mm512_add_epi32(group_lanes, _mm512_set1_epi32((int)g));
            int64_t group = (b0 + g) / 4;
            __m512i xlo[4], xhi[4], off[4];
            for (int i = 0; i < MR; i++) {
                const uint8_t *unit = xq + i * l->unit_bytes;
                xlo[i] = _mm512_load_si512((const void *)(unit + l->quant_offset + group * 128));
                xhi[i] = _mm512_load_si512((const void *)(unit + l->quant_offset + group * 128 + 64));
                off[i] = _mm512_load_si512((const void *)(unit + l->extra_offset + group * 64));
            }
            for (int r = 0; r < R; r++) {
                __m512i v = _mm512_maskz_loadu_epi8(mask, wq + r * (k / 2) + (b0 + g) * 16);
                CK_Q8ACT_PREFETCH_ROW(wq + r * (k / 2) + (b0 + g) * 16, MR, k / 2);
                __m512i lo = _mm512_and_si512(v, low4);
                __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
                for (int i = 0; i < MR; i++) {
                    __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(off[i], lo, xlo[i]), hi, xhi[i]);
                    __m512 s = _mm512_permutexvar_ps(idx, _mm512_load_ps(comb[i * R + r]));
                    acc[i][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, acc[i][r]);
                }
            }
        }
    }
    for (int i = 0; i < MR; i++)
        for (int r = 0; r < R; r++) out[i * ldo + r] = _mm512_reduce_add_ps(acc[i][r]);
}

CK_VNNI static void ck_q8act_rows_any(const ck_weights *w, const ck_q8act_layout *l, const uint8_t *xq, int mr,
                                      int64_t row, int nr, float *out, int64_t ldo) {
#define CK_ROWS_CASE(MR, R)                                                                        \
    case (MR) * 16 + (R):                                                                          \
        if (w->format == CK_FORMAT_Q8_0) ck_q8act_rows_q8(w, l, xq, MR, row, R, out, ldo);         \
        else ck_q8act_rows_q4(w, l, xq, MR, row, R, out, ldo);                                     \
        break;
    switch (mr * 16 + nr) {
        CK_ROWS_CASE(1, 1) CK_ROWS_CASE(1, 2) CK_ROWS_CASE(1, 3) CK_ROWS_CASE(1, 4)
        CK_ROWS_CASE(1, 5) CK_ROWS_CASE(1, 6) CK_ROWS_CASE(1, 7) CK_ROWS_CASE(1, 8)
        CK_ROWS_CASE(2, 1) CK_ROWS_CASE(2, 2) CK_ROWS_CASE(2, 3) CK_ROWS_CASE(2, 4)
        CK_ROWS_CASE(3, 1) CK_ROWS_CASE(3, 2) CK_ROWS_CASE(3, 3) CK_ROWS_CASE(3, 4)
        CK_ROWS_CASE(4, 1) CK_ROWS_CASE(4, 2) CK_ROWS_CASE(4, 3) CK_ROWS_CASE(4, 4)
    default: break;
    }
#undef CK_ROWS_CASE
}

CK_VNNI void ck_q8act_gemv_avx512(const ck_weights *w, const ck_q8act_layout *l, const void *xq, int64_t row0,
                                  int64_t nrows, float *out) {
    int64_t r = 0;
    for (; r + CK_Q8ACT_GEMV_ROWS <= nrows; r += CK_Q8ACT_GEMV_ROWS) {
        ck_q8act_rows_any(w, l, xq, 1, row0 + r, CK_Q8ACT_GEMV_ROWS, out + r, 0);
    }
    if (r < nrows) ck_q8act_rows_any(w, l, xq, 1, row0 + r, (int)(nrows - r), out + r, 0);
}

// ---- lanes layout: 16 rows of X per vector, 4 weight bytes broadcast to all of them --------------------------

// Columns of blocks [b0, b0 + nblocks) of row `row` as unsigned bytes, 32 per block in X's column order:
// q8_0 as w_q + 128; q4_0 as the 16 low nibbles (columns 0-15) then the 16 high ones (columns 16-31).
CK_VNNI CK_INLINE void ck_q8act_unsigned_weights(const ck_weights *w, int64_t row, int64_t b0, int64_t nblocks,
                                                 uint8_t *dst) {
    int64_t k = w->cols;
    if (w->format == CK_FORMAT_Q8_0) {
        const int8_t *src = (const int8_t *)w->data + row * k + b0 * 32;
        const __m512i c128 = _mm512_set1_epi8((char)0x80);
        for (int64_t b = 0; b < nblocks; b += 2) {
            __mmask64 mask = nblocks - b >= 2 ? ~(__mmask64)0 : (__mmask64)0xffffffffu;
            __m512i v = _mm512_maskz_loadu_epi8(mask, src + b * 32);
            _mm512_mask_storeu_epi8(dst + b * 32, mask, _mm512_xor_si512(v, c128));
        }
        return;
    }
    const uint8_t *src = (const uint8_t *)w->data + row * (k / 2) + b0 * 16;
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    // 128-bit lanes: [lo 0, hi 0, lo 1, hi 1] and [lo 2, hi 2, lo 3, hi 3] of a 4-block load.
    const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    for (int64_t b = 0; b < nblocks; b += 4) {
        int64_t blocks = nblocks - b < 4 ? nblocks - b : 4;
        __mmask64 mask = blocks == 4 ? ~(__mmask64)0 : (((__mmask64)1 << (16 * blocks)) - 1);
        __m512i v = _mm512_maskz_loadu_epi8(mask, src + b * 16);
        __m512i lo = _mm512_and_si512(v, low4);
        __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        _mm512_storeu_si512((void *)(dst + b * 32), _mm512_permutex2var_epi64(lo, first, hi));
        if (blocks > 2) _mm512_storeu_si512((void *)(dst + b * 32 + 64), _mm512_permutex2var_epi64(lo, second, hi));
    }
}

CK_VNNI CK_INLINE __m512i ck_q8act_bcast(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

// acc[r] (lane i = row i of the group) += the blocks' contributions of weight rows r < R; `wu` holds the rows'
// unsigned weights (CK_Q8ACT_CHUNK_BLOCKS * 32 bytes per row), `dw` their f32 scales.
CK_VNNI CK_INLINE void ck_q8act_lanes_chunk(const uint8_t *unit, const ck_q8act_layout *l, int64_t b0,
                                            int64_t nblocks, const uint8_t *wu, const float *dw, int R,
                                            __m512 *acc) {
    __m512 a[CK_Q8ACT_SKINNY_ROWS];
    for (int r = 0; r < R; r++) a[r] = acc[r];
    const __m512i zero = _mm512_setzero_si512();
    for (int64_t b = 0; b < nblocks; b++) {
        const uint8_t *xb = unit + l->quant_offset + (b0 + b) * 512;
        __m512 dx = _mm512_load_ps((const float *)unit + (b0 + b) * 16);
        __m512i off = _mm512_load_si512((const void *)(unit + l->extra_offset + (b0 + b) * 64));
        __m512i xv[8];
        for (int t = 0; t < 8; t++) xv[t] = _mm512_load_si512((const void *)(xb + t * 64));
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = wu + r * CK_Q8ACT_CHUNK_BLOCKS * 32 + b * 32;
            // Two chains of four, so consecutive vpdpbusd do not wait on each other.
            __m512i s0 = _mm512_dpbusd_epi32(off, ck_q8act_bcast(wb), xv[0]);
            __m512i s1 = _mm512_dpbusd_epi32(zero, ck_q8act_bcast(wb + 4), xv[1]);
            s0 = _mm512_dpbusd_epi32(s0, ck_q8act_bcast(wb + 8), xv[2]);
            s1 = _mm512_dpbusd_epi32(s1, ck_q8act_bcast(wb + 12), xv[3]);
            s0 = _mm512_dpbusd_epi32(s0, ck_q8act_bcast(wb + 16), xv[4]);
            s1 = _mm512_dpbusd_epi32(s1, ck_q8act_bcast(wb + 20), xv[5]);
            s0 = _mm512_dpbusd_epi32(s0, ck_q8act_bcast(wb + 24), xv[6]);
            s1 = _mm512_dpbusd_epi32(s1, ck_q8act_bcast(wb + 28), xv[7]);
            __m512 s = _mm512_mul_ps(dx, _mm512_set1_ps(dw[r * CK_Q8ACT_CHUNK_BLOCKS + b]));
            a[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), s, a[r]);
        }
    }
    for (int r = 0; r < R; r++) acc[r] = a[r];
}

CK_VNNI static void ck_q8act_lanes_chunk_any(const uint8_t *unit, const ck_q8act_layout *l, int64_t b0,
                                             int64_t nblocks, const uint8_t *wu, const float *dw, int R,
                                             __m512 *acc) {
    switch (R) {
    case 1: ck_q8act_lanes_chunk(unit, l, b0, nblocks, wu, dw, 1, acc); break;
    case 2: ck_q8act_lanes_chunk(unit, l, b0, nblocks, wu, dw, 2, acc); break;
    case 3: ck_q8act_lanes_chunk(unit, l, b0, nblocks, wu, dw, 3, acc); break;
    default: ck_q8act_lanes_chunk(unit, l, b0, nblocks, wu, dw, 4, acc); break;
    }
}

CK_VNNI static void ck_q8act_skinny_lanes(const ck_weights *w, const ck_q8act_layout *l, const uint8_t *xq,
                                          int64_t row0, int64_t nrows, float *y, int64_t ldy, int accumulate) {
    enum { GROUPS = (CK_SKINNY_MAX_M + CK_Q8ACT_LANES - 1) / CK_Q8ACT_LANES };
    int64_t nb = l->nb, m = l->m;
    int64_t groups = (m + CK_Q8ACT_LANES - 1) / CK_Q8ACT_LANES;
    uint8_t wu[CK_Q8ACT_SKINNY_ROWS * CK_Q8ACT_CHUNK_BLOCKS * 32] __attribute__((aligned(64)));
    float dw[CK_Q8ACT_SKINNY_ROWS * CK_Q8ACT_CHUNK_BLOCKS] __attribute__((aligned(64)));
    __m512 acc[GROUPS][CK_Q8ACT_SKINNY_ROWS];
    float lanes[CK_Q8ACT_LANES] __attribute__((aligned(64)));
    for (int64_t row = row0; row < row0 + nrows; row += CK_Q8ACT_SKINNY_ROWS) {
        int R = (int)(row0 + nrows - row < CK_Q8ACT_SKINNY_ROWS ? row0 + nrows - row : CK_Q8ACT_SKINNY_ROWS);
        for (int64_t g = 0; g < groups; g++)
            for (int r = 0; r < R; r++) acc[g][r] = _mm512_setzero_ps();
        for (int64_t b0 = 0; b0 < nb; b0 += CK_Q8ACT_CHUNK_BLOCKS) {
            int64_t nblocks = nb - b0 < CK_Q8ACT_CHUNK_BLOCKS ? nb - b0 : CK_Q8ACT_CHUNK_BLOCKS;
            __mmask16 m16 = (__mmask16)((1u << nblocks) - 1u);
            for (int r = 0; r < R; r++) {
                ck_q8act_unsigned_weights(w, row + r, b0, nblocks, wu + r * CK_Q8ACT_CHUNK_BLOCKS * 32);
                const uint16_t *s = w->scales + (row + r) * nb + b0;
                _mm512_store_ps(dw + r * CK_Q8ACT_CHUNK_BLOCKS, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m16, s)));
            }
            for (int64_t g = 0; g < groups; g++) {
                ck_q8act_lanes_chunk_any(xq + g * l->unit_bytes, l, b0, nblocks, wu, dw, R, acc[g]);
            }
        }
        for (int64_t g = 0; g < groups; g++) {
            int64_t count = m - g * CK_Q8ACT_LANES < CK_Q8ACT_LANES ? m - g * CK_Q8ACT_LANES : CK_Q8ACT_LANES;
            for (int r = 0; r < R; r++) {
                _mm512_store_ps(lanes, acc[g][r]);
                for (int64_t i = 0; i < count; i++) {
                    float *dst = y + (g * CK_Q8ACT_LANES + i) * ldy + row + r;
                    *dst = accumulate ? *dst + lanes[i] : lanes[i];
                }
            }
        }
    }
}

CK_VNNI void ck_q8act_skinny_avx512(const ck_weights *w, const ck_q8act_layout *l, const void *xq, int64_t row0,
                                    int64_t nrows, float *y, int64_t ldy, int accumulate) {
    if (l->lanes) {
        ck_q8act_skinny_lanes(w, l, xq, row0, nrows, y, ldy, accumulate);
        return;
    }
    int mr = (int)l->m;
    float out[4 * CK_Q8ACT_SKINNY_ROWS];
    for (int64_t row = row0; row < row0 + nrows; row += CK_Q8ACT_SKINNY_ROWS) {
        int R = (int)(row0 + nrows - row < CK_Q8ACT_SKINNY_ROWS ? row0 + nrows - row : CK_Q8ACT_SKINNY_ROWS);
        ck_q8act_rows_any(w, l, xq, mr, row, R, out, CK_Q8ACT_SKINNY_ROWS);
        for (int i = 0; i < mr; i++) {
            for (int r = 0; r < R; r++) {
                float *dst = y + i * ldy + row + r;
                *dst = accumulate ? *dst + out[i * CK_Q8ACT_SKINNY_ROWS + r] : out[i * CK_Q8ACT_SKINNY_ROWS + r];
            }
        }
    }
}

#endif
