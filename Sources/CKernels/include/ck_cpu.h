// CPU feature detection and the dispatch level every kernel chooses its code path by.
#ifndef CK_CPU_H
#define CK_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

/// Code paths, from the portable fallback up. Each level implies the ones below it.
typedef enum {
    CK_LEVEL_SCALAR = 0,      ///< portable C, any x86-64 or other CPU
    CK_LEVEL_AVX2 = 1,        ///< AVX2 + FMA + F16C (Haswell and newer)
    CK_LEVEL_AVX512 = 2,      ///< AVX-512 F/BW/VL/DQ (Skylake-X and newer)
    CK_LEVEL_AVX512_BF16 = 3, ///< plus AVX512-BF16 (vdpbf16ps) and VNNI (Cooper Lake, Sapphire Rapids)
    CK_LEVEL_AMX = 4          ///< plus AMX-TILE/BF16/INT8 granted by the OS (Sapphire Rapids and newer)
} ck_level;

/// What the CPU and OS offer, detected once (cpuid + xgetbv + the Linux AMX permission request).
typedef struct {
    int avx2, fma, f16c;
    int avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16;
    int amx_tile, amx_bf16, amx_int8;
    int amx_permitted;  ///< arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) succeeded
} ck_cpu_features;

/// The detected features (cached after the first call; thread-safe).
const ck_cpu_features *ck_cpu_detect(void);

/// The highest level the machine supports.
ck_level ck_cpu_max_level(void);

/// The level kernels use: the machine's maximum, capped by the environment variable INTERNVL_CPU
/// (`scalar`, `avx2`, `avx512`, `avx512bf16`, `amx`) or by ck_set_level(). Never above the maximum.
ck_level ck_active_level(void);

/// Caps the active level (for tests of fallback paths). Returns the level actually in force.
ck_level ck_set_level(ck_level level);

/// A short name for a level: "scalar", "avx2", "avx512", "avx512bf16", "amx".
const char *ck_level_name(ck_level level);

#ifdef __cplusplus
}
#endif
#endif
