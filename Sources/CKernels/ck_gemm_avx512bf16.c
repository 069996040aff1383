// The AVX512-BF16 block kernel of the bf16 GEMM (see ck_gemm_amx.c for the packed layouts): vdpbf16ps on
// 8 rows x 32 columns of C at a time (16 accumulators), each B row (16 columns x one K pair) loaded once
// for every term of A.
#include "ck_matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define CK_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

CK_BF16_TARGET static void ck_bf16_block_vdp(const uint16_t *a, int64_t a_next_m, const uint16_t *b,
                                             int64_t b_next_n, int64_t nkb, int nterms, float *c, int64_t ldc,
                                             int load_c) {
    int64_t astep = (int64_t)nterms * CK_BF16_TILE_VALUES;
    for (int h = 0; h < 2; h++) {
        const uint16_t *ah = a + h * a_next_m;
        for (int rg = 0; rg < CK_BF16_TILE_M; rg += 8) {
            float *crow = c + (int64_t)(h * CK_BF16_TILE_M + rg) * ldc;
            __m512 acc[8][2];
            for (int r = 0; r < 8; r++) {
                acc[r][0] = load_c ? _mm512_loadu_ps(crow + r * ldc) : _mm512_setzero_ps();
                acc[r][1] = load_c ? _mm512_loadu_ps(crow + r * ldc + 16) : _mm512_setzero_ps();
            }
            for (int64_t s = 0; s < nkb; s++) {
                const uint16_t *bs = b + s * CK_BF16_TILE_VALUES;
                const uint16_t *as = ah + s * astep + rg * CK_BF16_TILE_K;
                for (int p = 0; p < 16; p++) {
                    __m512bh b0 = (__m512bh)_mm512_loadu_si512(bs + p * 32);
                    __m512bh b1 = (__m512bh)_mm512_loadu_si512(bs + b_next_n + p * 32);
                    for (int t = 0; t < nterms; t++) {
                        const uint16_t *at = as + t * CK_BF16_TILE_VALUES + 2 * p;
                        for (int r = 0; r < 8; r++) {
                            uint32_t pair;
                            memcpy(&pair, at + r * CK_BF16_TILE_K, sizeof(pair));
                            __m512bh x = (__m512bh)_mm512_set1_epi32((int)pair);
                            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, b0);
                            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, b1);
                        }
                    }
                }
            }
            for (int r = 0; r < 8; r++) {
                _mm512_storeu_ps(crow + r * ldc, acc[r][0]);
                _mm512_storeu_ps(crow + r * ldc + 16, acc[r][1]);
            }
        }
    }
}

ck_bf16_block_fn ck_bf16_block_avx512bf16(void) { return ck_bf16_block_vdp; }

typedef struct {
    int64_t iterations;
    float sink;
} ck_vdp_peak;

CK_BF16_TARGET static void ck_vdp_peak_task(void *raw, int task, int thread) {
    (void)task;
    (void)thread;
    ck_vdp_peak *job = raw;
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3F803F80), y = (__m512bh)_mm512_set1_epi32(0x00010001);
    for (int64_t i = 0; i < job->iterations; i++) {
        for (int j = 0; j < 16; j++) acc[j] = _mm512_dpbf16_ps(acc[j], x, y);
        __asm__ volatile("" : "+v"(x));
    }
    __m512 sum = acc[0];
    for (int i = 1; i < 16; i++) sum = _mm512_add_ps(sum, acc[i]);
    if (_mm512_reduce_add_ps(sum) == 12345.0f) job->sink = 1;
}

double ck_bf16_peak_avx512bf16(ck_pool *pool, int64_t iterations) {
    ck_vdp_peak job = {iterations, 0};
    int threads = ck_pool_size(pool);
    ck_pool_run(pool, ck_vdp_peak_task, &job, threads);
    return (double)threads * (double)iterations * 16.0 * 16 * 2 * 2;
}

#else

ck_bf16_block_fn ck_bf16_block_avx512bf16(void) { return NULL; }

double ck_bf16_peak_avx512bf16(ck_pool *pool, int64_t iterations) {
    (void)pool, (void)iterations;
    return 0;
}

#endif
