// Tiled attention with an online softmax (flash-attention style) and grouped-query heads.
//
// The driver groups (query row, head) pairs that share one kv head into a row block, transposes each key tile
// once into [D][16] so 16 scores come out of D broadcast-multiply-adds, and hands every row of the block to a
// per-level routine that updates its running max m, running sum l and unnormalised output acc.
#include "ck_ops_attention.h"
#include "ck_cpu.h"
#include "ck_ops_vecmath.h"

#include <math.h>
#include <string.h>

#define KT CK_ATTENTION_KEY_TILE
#define RB CK_ATTENTION_ROW_BLOCK

/// One key tile, as every row of a block sees it.
typedef struct {
    const float *kt;       // [D][KT] transposed keys, zero beyond nk
    const float *v;        // value row of the tile's first key, for this kv head
    ptrdiff_t v_stride;
    ptrdiff_t head_dim;
    float scale;
} key_tile;

typedef void (*row_update_fn)(const key_tile *tile, const float *q, ptrdiff_t limit, float *acc, float *m, float *l);

// ------------------------------------------------------------------------------------------------ scalar
static void row_update_scalar(const key_tile *tile, const float *q, ptrdiff_t limit, float *acc, float *m, float *l) {
    ptrdiff_t d_count = tile->head_dim;
    float s[KT];
    float tile_max = -INFINITY;
    for (ptrdiff_t j = 0; j < limit; j++) {
        float dot = 0.0f;
        for (ptrdiff_t d = 0; d < d_count; d++) dot += q[d] * tile->kt[d * KT + j];
        s[j] = dot * tile->scale;
        tile_max = s[j] > tile_max ? s[j] : tile_max;
    }
    float m_new = *m > tile_max ? *m : tile_max;
    float corr = expf(*m - m_new);
    float sum = 0.0f;
    for (ptrdiff_t j = 0; j < limit; j++) {
        s[j] = expf(s[j] - m_new);
        sum += s[j];
    }
    *l = *l * corr + sum;
    *m = m_new;
    for (ptrdiff_t d = 0; d < d_count; d++) {
        float a = acc[d] * corr;
        for (ptrdiff_t j = 0; j < limit; j++) a += s[j] * tile->v[j * tile->v_stride + d];
        acc[d] = a;
    }
}

#ifdef CK_OPS_X86
// -------------------------------------------------------------------------------------------------- AVX2
CK_TARGET_AVX2 static void row_update_avx2(const key_tile *tile, const float *q, ptrdiff_t limit, float *acc,
                                           float *m, float *l) {
    ptrdiff_t dn = tile->head_dim;
    const float *kt = tile->kt;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    ptrdiff_t d = 0;
    for (; d + 2 <= dn; d += 2) {
        __m256 q0 = _mm256_broadcast_ss(q + d), q1 = _mm256_broadcast_ss(q + d + 1);
        a0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(kt + d * KT), a0);
        b0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(kt + d * KT + 8), b0);
        a1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(kt + (d + 1) * KT), a1);
        b1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(kt + (d + 1) * KT + 8), b1);
    }
    if (d < dn) {
        __m256 q0 = _mm256_broadcast_ss(q + d);
        a0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(kt + d * KT), a0);
        b0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(kt + d * KT + 8), b0);
    }
    __m256 scale = _mm256_set1_ps(tile->scale), neg_inf = _mm256_set1_ps(-INFINITY);
    __m256 s_lo = _mm256_mul_ps(_mm256_add_ps(a0, a1), scale);
    __m256 s_hi = _mm256_mul_ps(_mm256_add_ps(b0, b1), scale);
    __m256 valid_lo = _mm256_castsi256_ps(ck256_tail_mask(limit));
    __m256 valid_hi = _mm256_castsi256_ps(ck256_tail_mask(limit - 8));
    s_lo = _mm256_blendv_ps(neg_inf, s_lo, valid_lo);
    s_hi = _mm256_blendv_ps(neg_inf, s_hi, valid_hi);
    float tile_max = ck256_hmax(_mm256_max_ps(s_lo, s_hi));
    float m_new = *m > tile_max ? *m : tile_max;
    float corr = expf(*m - m_new);
    __m256 mb = _mm256_set1_ps(m_new);
    __m256 p_lo = ck256_exp(_mm256_sub_ps(s_lo, mb)), p_hi = ck256_exp(_mm256_sub_ps(s_hi, mb));
    *l = *l * corr + ck256_hsum(_mm256_add_ps(p_lo, p_hi));
    *m = m_new;
    float p[KT];
    _mm256_storeu_ps(p, p_lo);
    _mm256_storeu_ps(p + 8, p_hi);

    __m256 cv = _mm256_set1_ps(corr);
    const float *v = tile->v;
    ptrdiff_t vs = tile->v_stride;
    ptrdiff_t c = 0;
    for (; c + 32 <= dn; c += 32) {
        __m256 o0 = _mm256_mul_ps(_mm256_loadu_ps(acc + c), cv), o1 = _mm256_mul_ps(_mm256_loadu_ps(acc + c + 8), cv);
        __m256 o2 = _mm256_mul_ps(_mm256_loadu_ps(acc + c + 16), cv);
        __m256 o3 = _mm256_mul_ps(_mm256_loadu_ps(acc + c + 24), cv);
        for (ptrdiff_t j = 0; j < limit; j++) {
            const float *vj = v + j * vs + c;
            __m256 pj = _mm256_set1_ps(p[j]);
            o0 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj), o0);
            o1 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8), o1);
            o2 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 16), o2);
            o3 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 24), o3);
        }
        _mm256_storeu_ps(acc + c, o0);
        _mm256_storeu_ps(acc + c + 8, o1);
        _mm256_storeu_ps(acc + c + 16, o2);
        _mm256_storeu_ps(acc + c + 24, o3);
    }
    for (; c < dn; c += 8) {
        __m256i mask = ck256_tail_mask(dn - c);
        __m256 o = _mm256_mul_ps(_mm256_maskload_ps(acc + c, mask), cv);
        for (ptrdiff_t j = 0; j < limit; j++)
            o = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_maskload_ps(v + j * vs + c, mask), o);
        _mm256_maskstore_ps(acc + c, mask, o);
    }
}

// ------------------------------------------------------------------------------------------------ AVX-512
CK_TARGET_AVX512 static void row_update_avx512(const key_tile *tile, const float *q, ptrdiff_t limit, float *acc,
                                               float *m, float *l) {
    ptrdiff_t dn = tile->head_dim;
    const float *kt = tile->kt;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    ptrdiff_t d = 0;
    for (; d + 4 <= dn; d += 4) {
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(q[d]), _mm512_loadu_ps(kt + d * KT), a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(q[d + 1]), _mm512_loadu_ps(kt + (d + 1) * KT), a1);
        a2 = _mm512_fmadd_ps(_mm512_set1_ps(q[d + 2]), _mm512_loadu_ps(kt + (d + 2) * KT), a2);
        a3 = _mm512_fmadd_ps(_mm512_set1_ps(q[d + 3]), _mm512_loadu_ps(kt + (d + 3) * KT), a3);
    }
    for (; d < dn; d++) a0 = _mm512_fmadd_ps(_mm512_set1_ps(q[d]), _mm512_loadu_ps(kt + d * KT), a0);
    __mmask16 valid = ck512_tail_mask(limit);
    __m512 s = _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)), _mm512_set1_ps(tile->scale));
    s = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), valid, s);
    float tile_max = _mm512_reduce_max_ps(s);
    float m_new = *m > tile_max ? *m : tile_max;
    float corr = expf(*m - m_new);
    __m512 p = ck512_exp(_mm512_sub_ps(s, _mm512_set1_ps(m_new)));
    *l = *l * corr + _mm512_reduce_add_ps(p);
    *m = m_new;
    float pv[KT];
    _mm512_storeu_ps(pv, p);

    __m512 cv = _mm512_set1_ps(corr);
    const float *v = tile->v;
    ptrdiff_t vs = tile->v_stride;
    for (ptrdiff_t c = 0; c < dn; c += 64) {
        __mmask16 k0 = ck512_tail_mask(dn - c), k1 = ck512_tail_mask(dn - c - 16);
        __mmask16 k2 = ck512_tail_mask(dn - c - 32), k3 = ck512_tail_mask(dn - c - 48);
        __m512 o0 = _mm512_mul_ps(_mm512_maskz_loadu_ps(k0, acc + c), cv);
        __m512 o1 = _mm512_mul_ps(_mm512_maskz_loadu_ps(k1, acc + c + 16), cv);
        __m512 o2 = _mm512_mul_ps(_mm512_maskz_loadu_ps(k2, acc + c + 32), cv);
        __m512 o3 = _mm512_mul_ps(_mm512_maskz_loadu_ps(k3, acc + c + 48), cv);
        for (ptrdiff_t j = 0; j < limit; j++) {
            const float *vj = v + j * vs + c;
            __m512 pj = _mm512_set1_ps(pv[j]);
            o0 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(k0, vj), o0);
            o1 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(k1, vj + 16), o1);
            o2 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(k2, vj + 32), o2);
            o3 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(k3, vj + 48), o3);
        }
        _mm512_mask_storeu_ps(acc + c, k0, o0);
        _mm512_mask_storeu_ps(acc + c + 16, k1, o1);
        _mm512_mask_storeu_ps(acc + c + 32, k2, o2);
        _mm512_mask_storeu_ps(acc + c + 48, k3, o3);
    }
}
#endif

// ------------------------------------------------------------------------------------------------ driver
size_t ck_attention_scratch_floats(ptrdiff_t head_dim) {
    // transposed key tile + per-row acc, m, l
    return (size_t)(KT * head_dim + RB * head_dim + 2 * RB);
}

/// Number of keys query t may see.
static ptrdiff_t visible_keys(const ck_attention_args *a, ptrdiff_t t) {
    if (!a->causal) return a->n_keys;
    ptrdiff_t n = a->q_offset + t + 1;
    if (n < 0) n = 0;
    return n < a->n_keys ? n : a->n_keys;
}

static void transpose_key_tile(const float *k, ptrdiff_t k_stride, ptrdiff_t nk, ptrdiff_t dn, float *kt) {
    for (ptrdiff_t j = 0; j < nk; j++) {
        const float *kj = k + j * k_stride;
        for (ptrdiff_t d = 0; d < dn; d++) kt[d * KT + j] = kj[d];
    }
    for (ptrdiff_t j = nk; j < KT; j++)
        for (ptrdiff_t d = 0; d < dn; d++) kt[d * KT + j] = 0.0f;
}

/// One row block: tokens [ta, tb) x query heads [ha, hb), all using kv head g.
static void attend_block(const ck_attention_args *a, row_update_fn update, ptrdiff_t g, ptrdiff_t ta, ptrdiff_t tb,
                         ptrdiff_t ha, ptrdiff_t hb, float *scratch) {
    ptrdiff_t dn = a->head_dim, nh = hb - ha, rows = (tb - ta) * nh;
    float *kt = scratch;
    float *acc = kt + KT * dn;
    float *m = acc + RB * dn;
    float *l = m + RB;
    memset(acc, 0, (size_t)(rows * dn) * sizeof(float));
    for (ptrdiff_t r = 0; r < rows; r++) { m[r] = -INFINITY; l[r] = 0.0f; }

    ptrdiff_t key_end = visible_keys(a, tb - 1);  // the last token sees the most keys
    key_tile tile = {kt, NULL, a->v_stride, dn, a->scale};
    for (ptrdiff_t kb = 0; kb < key_end; kb += KT) {
        ptrdiff_t nk = key_end - kb < KT ? key_end - kb : KT;
        transpose_key_tile(a->k + kb * a->k_stride + g * dn, a->k_stride, nk, dn, kt);
        tile.v = a->v + kb * a->v_stride + g * dn;
        for (ptrdiff_t t = ta; t < tb; t++) {
            ptrdiff_t limit = visible_keys(a, t) - kb;
            if (limit <= 0) continue;
            if (limit > nk) limit = nk;
            for (ptrdiff_t h = ha; h < hb; h++) {
                ptrdiff_t r = (t - ta) * nh + (h - ha);
                update(&tile, a->q + t * a->q_stride + h * dn, limit, acc + r * dn, m + r, l + r);
            }
        }
    }
    for (ptrdiff_t t = ta; t < tb; t++) {
        for (ptrdiff_t h = ha; h < hb; h++) {
            ptrdiff_t r = (t - ta) * nh + (h - ha);
            float *o = a->out + t * a->out_stride + h * dn;
            float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
            for (ptrdiff_t d = 0; d < dn; d++) o[d] = acc[r * dn + d] * inv;
        }
    }
}

void ck_attention_f32(const ck_attention_args *a, ptrdiff_t h0, ptrdiff_t h1, ptrdiff_t t0, ptrdiff_t t1,
                      float *scratch) {
    row_update_fn update = row_update_scalar;
#ifdef CK_OPS_X86
    ck_level level = ck_active_level();
    if (level >= CK_LEVEL_AVX512) update = row_update_avx512;
    else if (level >= CK_LEVEL_AVX2) update = row_update_avx2;
#endif
    ptrdiff_t group = a->n_heads / a->n_kv_heads;
    for (ptrdiff_t hs = h0; hs < h1;) {
        ptrdiff_t g = hs / group;
        ptrdiff_t he = (g + 1) * group < h1 ? (g + 1) * group : h1;
        if (he - hs > RB) he = hs + RB;
        ptrdiff_t tokens_per_block = RB / (he - hs);
        for (ptrdiff_t ts = t0; ts < t1; ts += tokens_per_block) {
            ptrdiff_t te = ts + tokens_per_block < t1 ? ts + tokens_per_block : t1;
            attend_block(a, update, g, ts, te, hs, he, scratch);
        }
        hs = he;
    }
}
