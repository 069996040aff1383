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
    const ck_matmul_kernels *kernels = ck_matmul_kernels_avx2();
    int64_t k = w->cols;
    float panel[CK_SKINNY_ROWS * CK_SKINNY_MAX_CHUNK] __attribute__((aligned(64)));
    __m256 acc[CK_SKINNY_MAX_M * CK_SKINNY_ROWS];
    for (int64_t row = 0; row < nrows; row += CK_SKINNY_ROWS) {
        int nr = (int)(nrows - row < CK_SKINNY_ROWS ? nrows - row : CK_SKINNY_ROWS);
        for (int64_t i = 0; i < m * CK_SKINNY_ROWS; i++) acc[i] = _mm256_setzero_ps();
        for (int64_t k0 = 0; k0 < k; k0 += kc) {
            int64_t kb = k - k0 < kc ? k - k0 : kc;
            kernels->decode(w, row0 + row, nr, k0, kb, panel, kc);
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
