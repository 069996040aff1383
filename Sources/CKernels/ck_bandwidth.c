// Memory read bandwidth probe (used by `internvl bench kernels` to measure this machine's ceiling).
#include "ck_bandwidth.h"

#include "ck_cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define CK_INLINE static inline __attribute__((always_inline))

__attribute__((target("avx512f"))) CK_INLINE uint64_t ck_read_avx512(const char *data, size_t part, int S) {
    __m512i acc[16];
    for (int s = 0; s < S; s++) acc[s] = _mm512_setzero_si512();
    for (size_t i = 0; i < part; i += 64) {
        for (int s = 0; s < S; s++) {
            acc[s] = _mm512_xor_si512(acc[s], _mm512_load_si512((const void *)(data + (size_t)s * part + i)));
        }
    }
    __m512i total = _mm512_setzero_si512();
    for (int s = 0; s < S; s++) total = _mm512_xor_si512(total, acc[s]);
    return (uint64_t)_mm512_reduce_add_epi64(total);
}

__attribute__((target("avx2"))) CK_INLINE uint64_t ck_read_avx2(const char *data, size_t part, int S) {
    __m256i acc[16];
    for (int s = 0; s < S; s++) acc[s] = _mm256_setzero_si256();
    for (size_t i = 0; i < part; i += 64) {
        for (int s = 0; s < S; s++) {
            const __m256i *p = (const __m256i *)(data + (size_t)s * part + i);
            acc[s] = _mm256_xor_si256(acc[s], _mm256_xor_si256(_mm256_load_si256(p), _mm256_load_si256(p + 1)));
        }
    }
    __m256i total = _mm256_setzero_si256();
    for (int s = 0; s < S; s++) total = _mm256_xor_si256(total, acc[s]);
    return (uint64_t)_mm256_extract_epi64(total, 0) ^ (uint64_t)_mm256_extract_epi64(total, 3);
}

__attribute__((target("avx512f"))) static uint64_t ck_read_avx512_n(const char *data, size_t part, int streams) {
    switch (streams) {
    case 1: return ck_read_avx512(data, part, 1);
    case 2: return ck_read_avx512(data, part, 2);
    case 4: return ck_read_avx512(data, part, 4);
    case 8: return ck_read_avx512(data, part, 8);
    default: return ck_read_avx512(data, part, 16);
    }
}

__attribute__((target("avx2"))) static uint64_t ck_read_avx2_n(const char *data, size_t part, int streams) {
    switch (streams) {
    case 1: return ck_read_avx2(data, part, 1);
    case 2: return ck_read_avx2(data, part, 2);
    case 4: return ck_read_avx2(data, part, 4);
    case 8: return ck_read_avx2(data, part, 8);
    default: return ck_read_avx2(data, part, 16);
    }
}
#endif

static uint64_t ck_read_scalar(const char *data, size_t part, int streams) {
    uint64_t acc = 0;
    for (size_t i = 0; i < part; i += 64) {
        for (int s = 0; s < streams; s++) {
            const uint64_t *p = (const uint64_t *)(data + (size_t)s * part + i);
            acc ^= p[0] ^ p[1] ^ p[2] ^ p[3] ^ p[4] ^ p[5] ^ p[6] ^ p[7];
        }
    }
    return acc;
}

uint64_t ck_bandwidth_read(const void *data, size_t bytes, int streams) {
    // Powers of two up to 16, so the SIMD versions are specialised for each count.
    int s = 1;
    while (s * 2 <= streams && s < 16) s *= 2;
    size_t part = bytes / (size_t)s / 64 * 64;
    if (part == 0) return 0;
#if defined(__x86_64__)
    ck_level level = ck_active_level();
    if (level >= CK_LEVEL_AVX512) return ck_read_avx512_n((const char *)data, part, s);
    if (level >= CK_LEVEL_AVX2) return ck_read_avx2_n((const char *)data, part, s);
#endif
    return ck_read_scalar((const char *)data, part, s);
}
