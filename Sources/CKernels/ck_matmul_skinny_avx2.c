// Small-M matmul (2 <= M <= CK_SKINNY_MAX_M) on AVX2 + FMA: the AVX-512 skinny kernel's scheme with 8-float
// vectors and 2 x CK_SKINNY_ROWS register tiles (AVX2 has 16 vector registers). Each weight row is read once.
#include "ck_matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_AVX2 __attribute__((target("avx2,fma,f16c")))
#define CK_INLINE static inline __attribute__((always_inline))
/// X rows per register tile (CK_SKINNY_MR x CK_SKINNY_ROWS accumulators).
#define CK_SKINNY_MR 2

CK_AVX2 CK_INLINE float ck_skinny_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 8 bf16 values to floats.
CK_AVX2 CK_INLINE __m256 ck_skinny_bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

// Decodes columns [k0, k0 + kb) of rows [row, row + R) to panel[r * ldp + c], 32 columns of every row in turn,
// so the R rows are read as R interleaved streams. For quantized formats k0 and kb are multiples of 32.
CK_AVX2 static void ck_skinny_decode(const ck_weights *w, int64_t row, int R, int64_t k0, int64_t kb, float *panel,
                                     int64_t ldp) {
    int64_t k = w->cols;
    switch (w->format) {
    case CK_FORMAT_F32:
    case CK_FORMAT_BF16: {
        int bf16 = w->format == CK_FORMAT_BF16;
        int64_t full = kb / 8 * 8;
        for (int64_t c = 0; c < full; c += 8) {
            for (int r = 0; r < R; r++) {
                int64_t at = (row + r) * k + k0 + c;
                __m256 v = bf16 ? ck_skinny_bf16x8((const uint16_t *)w->data + at)
                                : _mm256_loadu_ps((const float *)w->data + at);
                _mm256_store_ps(panel + r * ldp + c, v);
            }
        }
        for (int r = 0; r < R; r++) {
            for (int64_t c = full; c < kb; c++) {
                int64_t at = (row + r) * k + k0 + c;
                panel[r * ldp + c] = bf16 ? ck_bf16_to_f32(((const uint16_t *)w->data)[at]) : ((const float *)w->data)[at];
            }
        }
        break;
    }
    case CK_FORMAT_Q8_0: {
        for (int64_t c = 0; c < kb; c += CK_QBLOCK) {
            for (int r = 0; r < R; r++) {
                int64_t at = (row + r) * k + k0 + c;
                const int8_t *q = (const int8_t *)w->data + at;
                __m256 d = _mm256_set1_ps(_cvtsh_ss(w->scales[at / CK_QBLOCK]));
                for (int g = 0; g < 4; g++) {
                    __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8 * g)));
                    _mm256_store_ps(panel + r * ldp + c + 8 * g, _mm256_mul_ps(d, _mm256_cvtepi32_ps(v)));
                }
            }
        }
        break;
    }
    case CK_FORMAT_Q4_0: {
        const __m256i low4 = _mm256_set1_epi32(0x0f), eight = _mm256_set1_epi32(8);
        for (int64_t c = 0; c < kb; c += CK_QBLOCK) {
            for (int r = 0; r < R; r++) {
                int64_t at = (row + r) * k + k0 + c;
                const uint8_t *q = (const uint8_t *)w->data + at / 2;
                __m256 d = _mm256_set1_ps(_cvtsh_ss(w->scales[at / CK_QBLOCK]));
                for (int g = 0; g < 2; g++) {
                    __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8 * g)));
                    __m256 lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(v, low4), eight));
                    __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(v, 4), eight));
                    _mm256_store_ps(panel + r * ldp + c + 8 * g, _mm256_mul_ps(d, lo));
                    _mm256_store_ps(panel + r * ldp + c + 16 + 8 * g, _mm256_mul_ps(d, hi));
                }
            }
        }
        break;
    }
    }
}

// acc[i * CK_SKINNY_ROWS + r] += x[i] * panel[r] (lane-wise) over kb columns, for i < MR and r < R.
CK_AVX2 CK_INLINE void ck_skinny_tile(const float *x, int64_t ldx, int MR, const float *p, int64_t ldp, int R,
                                      int64_t kb, __m256 *acc) {
    __m256 a[CK_SKINNY_MR][CK_SKINNY_ROWS];
    for (int i = 0; i < MR; i++)
        for (int r = 0; r < R; r++) a[i][r] = acc[i * CK_SKINNY_ROWS + r];
    int64_t t = 0;
    for (; t + 8 <= kb; t += 8) {
        __m256 pv[CK_SKINNY_ROWS];
        for (int r = 0; r < R; r++) pv[r] = _mm256_load_ps(p + r * ldp + t);
        for (int i = 0; i < MR; i++) {
            __m256 xv = _mm256_loadu_ps(x + i * ldx + t);
            for (int r = 0; r < R; r++) a[i][r] = _mm256_fmadd_ps(xv, pv[r], a[i][r]);
        }
    }
    if (t < kb) {
        __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(kb - t)), lanes);
        __m256 pv[CK_SKINNY_ROWS];
        for (int r = 0; r < R; r++) pv[r] = _mm256_maskload_ps(p + r * ldp + t, m);
        for (int i = 0; i < MR; i++) {
            __m256 xv = _mm256_maskload_ps(x + i * ldx + t, m);
            for (int r = 0; r < R; r++) a[i][r] = _mm256_fmadd_ps(xv, pv[r], a[i][r]);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int r = 0; r < R; r++) acc[i * CK_SKINNY_ROWS + r] = a[i][r];
}

CK_AVX2 static void ck_skinny_tile_any(const float *x, int64_t ldx, int mr, const float *p, int64_t ldp, int nr,
                                       int64_t kb, __m256 *acc) {
#define CK_TILE_CASE(MR, R) \
    case (MR) * 8 + (R): ck_skinny_tile(x, ldx, MR, p, ldp, R, kb, acc); break;
    switch (mr * 8 + nr) {
        CK_TILE_CASE(1, 1) CK_TILE_CASE(1, 2) CK_TILE_CASE(1, 3) CK_TILE_CASE(1, 4)
        CK_TILE_CASE(2, 1) CK_TILE_CASE(2, 2) CK_TILE_CASE(2, 3) CK_TILE_CASE(2, 4)
    default: break;
    }
#undef CK_TILE_CASE
}

CK_AVX2 void ck_skinny_avx2(const ck_weights *w, const float *xpack, int64_t m, int64_t kc, int64_t row0,
                            int64_t nrows, float *y, int64_t ldy, int accumulate) {
    int64_t k = w->cols;
    float panel[CK_SKINNY_ROWS * CK_SKINNY_MAX_CHUNK] __attribute__((aligned(64)));
    __m256 acc[CK_SKINNY_MAX_M * CK_SKINNY_ROWS];
    for (int64_t row = 0; row < nrows; row += CK_SKINNY_ROWS) {
        int nr = (int)(nrows - row < CK_SKINNY_ROWS ? nrows - row : CK_SKINNY_ROWS);
        for (int64_t i = 0; i < m * CK_SKINNY_ROWS; i++) acc[i] = _mm256_setzero_ps();
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
                float v = ck_skinny_hsum8(acc[i * CK_SKINNY_ROWS + r]);
                out[r] = accumulate ? out[r] + v : v;
            }
        }
    }
}

#endif
