// Small-M matmul (2 <= M <= CK_SKINNY_MAX_M) on AVX-512: each thread streams its weight rows once, CK_SKINNY_ROWS
// rows at a time as interleaved streams, and applies every decoded weight to all M rows of X (packed per chunk so
// a chunk of X stays in L1).
//   M <= 4   weights are decoded straight into registers and multiplied with all M rows (one register tile);
//   M > 4    a chunk of the rows is decoded once into an L1 panel of floats, then register tiles of up to
//            CK_SKINNY_MR X rows by CK_SKINNY_ROWS weight rows run over it. Vector accumulators live in a small
//            stack array across chunks and are reduced once per row group (no horizontal sum per chunk).
#include "ck_matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define CK_INLINE static inline __attribute__((always_inline))
/// X rows per register tile (CK_SKINNY_MR x CK_SKINNY_ROWS accumulators).
#define CK_SKINNY_MR 4

CK_AVX512 CK_INLINE __m512 ck_skinny_bf16x16(__m256i bits) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

// The f32 scales of blocks [k0 / 32, k0 / 32 + nblocks) of row `row` (nblocks <= 16) into scale[0 ..< nblocks]:
// one conversion for 16 blocks, so each block's scale is then a broadcast load.
CK_AVX512 CK_INLINE void ck_skinny_scales(const ck_weights *w, int64_t row, int64_t k0, int64_t nblocks,
                                          float *scale) {
    __mmask16 m = (__mmask16)((1u << nblocks) - 1u);
    const uint16_t *s = w->scales + (row * w->cols + k0) / CK_QBLOCK;
    _mm512_store_ps(scale, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, s)));
}

// Decodes columns [k0, k0 + kb) of rows [row, row + R) to panel[r * ldp + c], 32 columns of every row in turn,
// so the R rows are read as R interleaved streams (one stream at a time would reach only part of the bandwidth).
// For quantized formats k0 and kb are multiples of 32.
CK_AVX512 static void ck_skinny_decode(const ck_weights *w, int64_t row, int R, int64_t k0, int64_t kb,
                                       float *panel, int64_t ldp) {
    int64_t k = w->cols;
    float scale[CK_SKINNY_ROWS][16] __attribute__((aligned(64)));
    if (w->format == CK_FORMAT_Q8_0 || w->format == CK_FORMAT_Q4_0) {
        for (int r = 0; r < R; r++) ck_skinny_scales(w, row + r, k0, kb / CK_QBLOCK, scale[r]);
    }
    switch (w->format) {
    case CK_FORMAT_F32:
    case CK_FORMAT_BF16: {
        int bf16 = w->format == CK_FORMAT_BF16;
        for (int64_t c = 0; c < kb; c += 16) {
            __mmask16 m = kb - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (kb - c)) - 1u);
            for (int r = 0; r < R; r++) {
                int64_t at = (row + r) * k + k0 + c;
                __m512 v = bf16 ? ck_skinny_bf16x16(_mm256_maskz_loadu_epi16(m, (const uint16_t *)w->data + at))
                                : _mm512_maskz_loadu_ps(m, (const float *)w->data + at);
                _mm512_store_ps(panel + r * ldp + c, v);
            }
        }
        break;
    }
    case CK_FORMAT_Q8_0: {
        for (int64_t c = 0; c < kb; c += CK_QBLOCK) {
            for (int r = 0; r < R; r++) {
                int64_t at = (row + r) * k + k0 + c;
                const int8_t *q = (const int8_t *)w->data + at;
                __m512 d = _mm512_set1_ps(scale[r][c / CK_QBLOCK]);
                __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q)));
                __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + 16))));
                _mm512_store_ps(panel + r * ldp + c, _mm512_mul_ps(d, lo));
                _mm512_store_ps(panel + r * ldp + c + 16, _mm512_mul_ps(d, hi));
            }
        }
        break;
    }
    case CK_FORMAT_Q4_0: {
        // A nibble n becomes n - 8 by a table lookup (vpermps reads only the low 4 bits of each lane).
        const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
        for (int64_t c = 0; c < kb; c += CK_QBLOCK) {
            for (int r = 0; r < R; r++) {
                int64_t at = (row + r) * k + k0 + c;
                const uint8_t *q = (const uint8_t *)w->data + at / 2;
                __m512 d = _mm512_set1_ps(scale[r][c / CK_QBLOCK]);
                __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
                __m512 lo = _mm512_permutexvar_ps(v, table);
                __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
                _mm512_store_ps(panel + r * ldp + c, _mm512_mul_ps(d, lo));
                _mm512_store_ps(panel + r * ldp + c + 16, _mm512_mul_ps(d, hi));
            }
        }
        break;
    }
    }
}

// acc[i * CK_SKINNY_ROWS + r] += x[i] * panel[r] (lane-wise) over kb columns, for i < MR and r < R.
CK_AVX512 CK_INLINE void ck_skinny_tile(const float *x, int64_t ldx, int MR, const float *p, int64_t ldp, int R,
                                        int64_t kb, __m512 *acc) {
    __m512 a[CK_SKINNY_MR][CK_SKINNY_ROWS];
    for (int i = 0; i < MR; i++)
        for (int r = 0; r < R; r++) a[i][r] = acc[i * CK_SKINNY_ROWS + r];
    int64_t t = 0;
    for (; t + 16 <= kb; t += 16) {
        __m512 pv[CK_SKINNY_ROWS];
        for (int r = 0; r < R; r++) pv[r] = _mm512_load_ps(p + r * ldp + t);
        for (int i = 0; i < MR; i++) {
            __m512 xv = _mm512_loadu_ps(x + i * ldx + t);
            for (int r = 0; r < R; r++) a[i][r] = _mm512_fmadd_ps(xv, pv[r], a[i][r]);
        }
    }
    if (t < kb) {
        __mmask16 m = (__mmask16)((1u << (kb - t)) - 1u);
        __m512 pv[CK_SKINNY_ROWS];
        for (int r = 0; r < R; r++) pv[r] = _mm512_maskz_load_ps(m, p + r * ldp + t);
        for (int i = 0; i < MR; i++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + i * ldx + t);
            for (int r = 0; r < R; r++) a[i][r] = _mm512_fmadd_ps(xv, pv[r], a[i][r]);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int r = 0; r < R; r++) acc[i * CK_SKINNY_ROWS + r] = a[i][r];
}

CK_AVX512 static void ck_skinny_tile_any(const float *x, int64_t ldx, int mr, const float *p, int64_t ldp, int nr,
                                         int64_t kb, __m512 *acc) {
#define CK_TILE_CASE(MR, R) \
    case (MR) * 8 + (R): ck_skinny_tile(x, ldx, MR, p, ldp, R, kb, acc); break;
    switch (mr * 8 + nr) {
        CK_TILE_CASE(1, 1) CK_TILE_CASE(1, 2) CK_TILE_CASE(1, 3) CK_TILE_CASE(1, 4)
        CK_TILE_CASE(2, 1) CK_TILE_CASE(2, 2) CK_TILE_CASE(2, 3) CK_TILE_CASE(2, 4)
        CK_TILE_CASE(3, 1) CK_TILE_CASE(3, 2) CK_TILE_CASE(3, 3) CK_TILE_CASE(3, 4)
        CK_TILE_CASE(4, 1) CK_TILE_CASE(4, 2) CK_TILE_CASE(4, 3) CK_TILE_CASE(4, 4)
    default: break;
    }
#undef CK_TILE_CASE
}

// 32 weights of row `row` from column `col` (fewer when `count` < 32: the rest read as 0) to two vectors.
// `scale` is the block's f32 scale (quantized formats); `table` maps a q4_0 nibble n to n - 8.
CK_AVX512 CK_INLINE void ck_skinny_load32(const ck_weights *w, int format, int64_t row, int64_t col, int64_t count,
                                          const float *scale, __m512 table, __m512 *lo, __m512 *hi) {
    int64_t at = row * w->cols + col;
    if (format == CK_FORMAT_F32 || format == CK_FORMAT_BF16) {
        __mmask16 m0 = 0xffff, m1 = 0xffff;
        if (count < 32) {
            m0 = count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1u);
            m1 = count <= 16 ? (__mmask16)0 : (__mmask16)((1u << (count - 16)) - 1u);
        }
        if (format == CK_FORMAT_F32) {
            const float *p = (const float *)w->data + at;
            *lo = _mm512_maskz_loadu_ps(m0, p);
            *hi = _mm512_maskz_loadu_ps(m1, p + 16);
        } else {
            const uint16_t *p = (const uint16_t *)w->data + at;
            *lo = ck_skinny_bf16x16(_mm256_maskz_loadu_epi16(m0, p));
            *hi = ck_skinny_bf16x16(_mm256_maskz_loadu_epi16(m1, p + 16));
        }
        return;
    }
    __m512 d = _mm512_set1_ps(*scale);
    if (format == CK_FORMAT_Q8_0) {
        const int8_t *q = (const int8_t *)w->data + at;
        *lo = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q))));
        *hi = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + 16)))));
    } else {
        __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)((const uint8_t *)w->data + at / 2)));
        *lo = _mm512_mul_ps(d, _mm512_permutexvar_ps(v, table));
        *hi = _mm512_mul_ps(d, _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table));
    }
}

// M <= CK_SKINNY_MR: the whole of X fits one register tile, so weights are decoded straight into registers (no
// panel) and the MR x R accumulators stay in registers over all of K. y as in ck_skinny_avx512.
CK_AVX512 CK_INLINE void ck_skinny_direct(const ck_weights *w, int format, const float *xpack, int MR, int64_t kc,
                                          int64_t row, int R, float *y, int64_t ldy, int accumulate) {
    const __m512 table = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
    int64_t k = w->cols;
    __m512 a[CK_SKINNY_MR][CK_SKINNY_ROWS];
    for (int i = 0; i < MR; i++)
        for (int r = 0; r < R; r++) a[i][r] = _mm512_setzero_ps();
    int quantized = format == CK_FORMAT_Q8_0 || format == CK_FORMAT_Q4_0;
    float scale[CK_SKINNY_ROWS][16] __attribute__((aligned(64)));
    for (int64_t k0 = 0; k0 < k; k0 += kc) {
        int64_t kb = k - k0 < kc ? k - k0 : kc;
        const float *xc = xpack + k0 * MR;
        if (quantized) {
            for (int r = 0; r < R; r++) ck_skinny_scales(w, row + r, k0, kb / CK_QBLOCK, scale[r]);
        }
        for (int64_t c = 0; c < kb; c += 32) {
            int64_t count = kb - c < 32 ? kb - c : 32;
            __m512 lo[CK_SKINNY_ROWS], hi[CK_SKINNY_ROWS];
            for (int r = 0; r < R; r++) {
                ck_skinny_load32(w, format, row + r, k0 + c, count, &scale[r][c / 32], table, &lo[r], &hi[r]);
            }
            for (int i = 0; i < MR; i++) {
                // The packed chunk has kc >= 32 columns per row, so reading 32 never leaves the buffer; columns
                // past `count` meet zero weights.
                __m512 x0 = _mm512_loadu_ps(xc + i * kc + c), x1 = _mm512_loadu_ps(xc + i * kc + c + 16);
                for (int r = 0; r < R; r++) {
                    a[i][r] = _mm512_fmadd_ps(x0, lo[r], a[i][r]);
                    a[i][r] = _mm512_fmadd_ps(x1, hi[r], a[i][r]);
                }
            }
        }
    }
    for (int i = 0; i < MR; i++) {
        for (int r = 0; r < R; r++) {
            float v = _mm512_reduce_add_ps(a[i][r]);
            y[i * ldy + row + r] = accumulate ? y[i * ldy + row + r] + v : v;
        }
    }
}

CK_AVX512 static void ck_skinny_direct_any(const ck_weights *w, const float *xpack, int mr, int64_t kc, int64_t row,
                                           int nr, float *y, int64_t ldy, int accumulate) {
#define CK_DIRECT_CASE(F, MR, R) \
    case ((F) * 8 + (MR)) * 8 + (R): ck_skinny_direct(w, F, xpack, MR, kc, row, R, y, ldy, accumulate); break;
#define CK_DIRECT_FORMAT(F) \
    CK_DIRECT_CASE(F, 1, 1) CK_DIRECT_CASE(F, 1, 2) CK_DIRECT_CASE(F, 1, 3) CK_DIRECT_CASE(F, 1, 4) \
    CK_DIRECT_CASE(F, 2, 1) CK_DIRECT_CASE(F, 2, 2) CK_DIRECT_CASE(F, 2, 3) CK_DIRECT_CASE(F, 2, 4) \
    CK_DIRECT_CASE(F, 3, 1) CK_DIRECT_CASE(F, 3, 2) CK_DIRECT_CASE(F, 3, 3) CK_DIRECT_CASE(F, 3, 4) \
    CK_DIRECT_CASE(F, 4, 1) CK_DIRECT_CASE(F, 4, 2) CK_DIRECT_CASE(F, 4, 3) CK_DIRECT_CASE(F, 4, 4)
    switch (((int)w->format * 8 + mr) * 8 + nr) {
        CK_DIRECT_FORMAT(CK_FORMAT_F32) CK_DIRECT_FORMAT(CK_FORMAT_BF16)
        CK_DIRECT_FORMAT(CK_FORMAT_Q8_0) CK_DIRECT_FORMAT(CK_FORMAT_Q4_0)
    default: break;
    }
#undef CK_DIRECT_FORMAT
#undef CK_DIRECT_CASE
}

CK_AVX512 void ck_skinny_avx512(const ck_weights *w, const float *xpack, int64_t m, int64_t kc, int64_t row0,
                                int64_t nrows, float *y, int64_t ldy, int accumulate) {
    int64_t k = w->cols;
    float panel[CK_SKINNY_ROWS * CK_SKINNY_MAX_CHUNK] __attribute__((aligned(64)));
    __m512 acc[CK_SKINNY_MAX_M * CK_SKINNY_ROWS];
    for (int64_t row = 0; row < nrows; row += CK_SKINNY_ROWS) {
        int nr = (int)(nrows - row < CK_SKINNY_ROWS ? nrows - row : CK_SKINNY_ROWS);
        if (m <= CK_SKINNY_MR) {
            ck_skinny_direct_any(w, xpack, (int)m, kc, row0 + row, nr, y - row0, ldy, accumulate);
            continue;
        }
        for (int64_t i = 0; i < m * CK_SKINNY_ROWS; i++) acc[i] = _mm512_setzero_ps();
        for (int64_t k0 = 0; k0 < k; k0 += kc) {
            int64_t kb = k - k0 < kc ? k - k0 : kc;
            ck_skinny_decode(w, row0 + row, nr, k0, kb, panel, kc);
            for (int64_t i0 = 0; i0 < m; i0 += CK_SKINNY_MR) {
                int mr = (int)(m - i0 < CK_SKINNY_MR ? m - i0 : CK_SKINNY_MR);
                ck_skinny_tile_any(xpack + k0 * m + i0 * kc, kc, mr, panel, kc, nr, kb, acc + i0 * CK_SKINNY_ROWS);
            }
        }
        for (int64_t i = 0; i < m; i++) {
            float *out = y + i * ldy + row;
            for (int r = 0; r < nr; r++) {
                float v = _mm512_reduce_add_ps(acc[i * CK_SKINNY_ROWS + r]);
                out[r] = accumulate ? out[r] + v : v;
            }
        }
    }
}

#endif
