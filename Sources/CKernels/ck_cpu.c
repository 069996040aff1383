#include "ck_cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CK_X86 1
#endif

#if defined(__linux__) && defined(CK_X86)
#include <sys/syscall.h>
#include <unistd.h>
#define CK_ARCH_REQ_XCOMP_PERM 0x1023
#define CK_XFEATURE_XTILEDATA 18
#endif

static ck_cpu_features g_features;
static atomic_int g_detected = 0;          // 0 = not yet, 1 = in progress, 2 = done
static atomic_int g_cap = -1;              // -1 = not read from the environment yet

#ifdef CK_X86
static unsigned long long ck_xgetbv(unsigned int index) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(index));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

static void ck_detect_now(ck_cpu_features *f) {
    memset(f, 0, sizeof(*f));
#ifdef CK_X86
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1;
    int fma = (c >> 12) & 1, f16c = (c >> 29) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return;
    unsigned long long xcr0 = ck_xgetbv(0);
    int os_avx = (xcr0 & 0x6) == 0x6;              // XMM and YMM state
    int os_avx512 = (xcr0 & 0xE6) == 0xE6;         // plus opmask, ZMM_Hi256, Hi16_ZMM
    int os_amx = (xcr0 & 0x60000) == 0x60000;      // XTILECFG and XTILEDATA
    if (!os_avx) return;
    unsigned int max_leaf = __get_cpuid_max(0, 0);
    if (max_leaf < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = (b >> 5) & 1;
    f->fma = fma;
    f->f16c = f16c;
    if (os_avx512) {
        f->avx512f = (b >> 16) & 1;
        f->avx512dq = (b >> 17) & 1;
        f->avx512bw = (b >> 30) & 1;
        f->avx512vl = (b >> 31) & 1;
        f->avx512vnni = (c >> 11) & 1;
    }
    f->amx_bf16 = os_amx && ((d >> 22) & 1);
    f->amx_tile = os_amx && ((d >> 24) & 1);
    f->amx_int8 = os_amx && ((d >> 25) & 1);
    unsigned int a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    if (os_avx512) f->avx512bf16 = (a1 >> 5) & 1;
#if defined(__linux__)
    if (f->amx_tile) {
        f->amx_permitted = syscall(SYS_arch_prctl, CK_ARCH_REQ_XCOMP_PERM, CK_XFEATURE_XTILEDATA) == 0;
    }
#endif
#endif
}

const ck_cpu_features *ck_cpu_detect(void) {
    if (atomic_load(&g_detected) == 2) return &g_features;
    int expected = 0;
    if (atomic_compare_exchange_strong(&g_detected, &expected, 1)) {
        ck_detect_now(&g_features);
        atomic_store(&g_detected, 2);
    } else {
        while (atomic_load(&g_detected) != 2) { /* another thread is detecting */ }
    }
    return &g_features;
}

ck_level ck_cpu_max_level(void) {
    const ck_cpu_features *f = ck_cpu_detect();
    if (!(f->avx2 && f->fma && f->f16c)) return CK_LEVEL_SCALAR;
    if (!(f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq)) return CK_LEVEL_AVX2;
    if (!(f->avx512bf16 && f->avx512vnni)) return CK_LEVEL_AVX512;
    if (!(f->amx_tile && f->amx_bf16 && f->amx_int8 && f->amx_permitted)) return CK_LEVEL_AVX512_BF16;
    return CK_LEVEL_AMX;
}

static int ck_level_from_name(const char *name) {
    static const char *names[] = {"scalar", "avx2", "avx512", "avx512bf16", "amx"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(name, names[i]) == 0) return i;
    }
    return -1;
}

ck_level ck_active_level(void) {
    int cap = atomic_load(&g_cap);
    if (cap < 0) {
        const char *env = getenv("INTERNVL_CPU");
        int parsed = env ? ck_level_from_name(env) : -1;
        cap = parsed >= 0 ? parsed : CK_LEVEL_AMX;
        atomic_store(&g_cap, cap);
    }
    ck_level max = ck_cpu_max_level();
    return cap < (int)max ? (ck_level)cap : max;
}

ck_level ck_set_level(ck_level level) {
    atomic_store(&g_cap, (int)level);
    return ck_active_level();
}

const char *ck_level_name(ck_level level) {
    switch (level) {
    case CK_LEVEL_SCALAR: return "scalar";
    case CK_LEVEL_AVX2: return "avx2";
    case CK_LEVEL_AVX512: return "avx512";
    case CK_LEVEL_AVX512_BF16: return "avx512bf16";
    case CK_LEVEL_AMX: return "amx";
    }
    return "unknown";
}
