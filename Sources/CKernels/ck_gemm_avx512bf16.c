// AVX512-BF16 (vdpbf16ps) without AMX: only the register peak the benchmark reports. A vdpbf16ps GEMM block
// kernel on the packed tiles of ck_gemm_amx.c was built and measured on Sapphire Rapids (commit c8fc6b7): its
// register peak is about 88 GFLOP/s per core (one 512-bit vdpbf16ps per cycle at best, the same 64 flops a
// cycle as two f32 FMA ports), and the kernel reached 50-75 GFLOP/s per core in fast precision against
// OpenBLAS sgemm's 150, so this level keeps decode + sgemm for every precision.
#include "ck_matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

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
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3F803F80), y = (__m512bh)_mm512_set1_epi32(0x3C003C00);  // 2^-7: normal, no denormal assists
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

double ck_bf16_peak_avx512bf16(ck_pool *pool, int64_t iterations) {
    (void)pool, (void)iterations;
    return 0;
}

#endif
