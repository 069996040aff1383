// Tiled attention with an online softmax (flash-attention style) and grouped-query heads.
//
// The driver gathers (query row, head) pairs into a row block, walks the visible keys in tiles (16 keys on the
// scalar and AVX2 paths, 32 on AVX-512), and for every kv head of the block transposes the tile once into
// [D][tile], so a tile of scores comes out of D broadcast-multiply-adds without horizontal sums. Rows sharing
// that kv head are then updated several at a time (running max m, running sum l, unnormalised output acc) by a
// per-level routine: four rows on AVX2 and scalar, eight (or four) on AVX-512, a register-blocked
// rows x keys score tile and rows x head_dim output tile in which the rows share every key and value load.
// When at most four rows use a kv head in a block (decode), the AVX-512 path skips the transpose and computes
// the scores straight from the key rows (16 dot-product accumulators per 4 keys x 4 rows, one horizontal-sum
// tree per 16 scores), which costs fewer shuffles than transposing a tile that serves only four rows.
#include "ck_ops_attention.h"
#include "ck_cpu.h"
#include "ck_ops_vecmath.h"

#include <math.h>
#include <string.h>

#define KT 16                       // keys per tile, scalar and AVX2
#define KT_MAX CK_ATTENTION_KEY_TILE  // keys per tile, AVX-512 (the scratch is sized for it)
#define RB CK_ATTENTION_ROW_BLOCK
#define QR 4      // rows updated together, scalar and AVX2
#define QR_MAX 8  // rows updated together, AVX-512
#define PREFETCH_MAX_ROWS 64  // blocks of at most this many rows (decode) prefetch the keys and values ahead
#define PREFETCH_LEAD 2       // ... this many (tile, kv head) steps ahead

/// One key tile of one kv head, as every row using that head sees it.
typedef struct {
    const float *kt;       // [D][KT] (AVX-512: [D][KT_MAX]) transposed keys, zero beyond the tile's key count
    const float *k;        // the tile's first key row in place (for the direct update), rows k_stride apart
    ptrdiff_t k_stride;
    ptrdiff_t nk;          // keys in the tile
    const float *v;        // value row of the tile's first key, for this kv head
    ptrdiff_t v_stride;
    ptrdiff_t head_dim;
    float scale;
} key_tile;

/// Up to QR_MAX rows against one tile. limit[r] = keys of the tile row r sees (0 ... tile size); a row with limit 0
/// is left as is. The driver fills `n` rows and pads the group to the level's row count with limit-0 rows.
typedef struct {
    const float *q[QR_MAX];
    float *acc[QR_MAX];
    float *m[QR_MAX];
    float *l[QR_MAX];
    ptrdiff_t limit[QR_MAX];
    int n;
} row_quad;

typedef void (*quad_update_fn)(const key_tile *tile, const row_quad *rows);

/// Running-max bookkeeping shared by every level: the new max and the factor that rescales the old state.
static inline float rescale_factor(float m_old, float tile_max, float *m_new) {
    *m_new = m_old > tile_max ? m_old : tile_max;
    return m_old == -INFINITY ? 0.0f : expf(m_old - *m_new);
}

// ------------------------------------------------------------------------------------------------ scalar
static void quad_update_scalar(const key_tile *tile, const row_quad *rows) {
    ptrdiff_t dn = tile->head_dim;
    for (int r = 0; r < QR; r++) {
        ptrdiff_t limit = rows->limit[r];
        if (limit <= 0) continue;
        const float *q = rows->q[r];
        float *acc = rows->acc[r];
        float s[KT];
        float tile_max = -INFINITY;
        for (ptrdiff_t j = 0; j < limit; j++) {
            float dot = 0.0f;
            for (ptrdiff_t d = 0; d < dn; d++) dot += q[d] * tile->kt[d * KT + j];
            s[j] = dot * tile->scale;
            tile_max = s[j] > tile_max ? s[j] : tile_max;
        }
        float m_new;
        float corr = rescale_factor(*rows->m[r], tile_max, &m_new);
        float sum = 0.0f;
        for (ptrdiff_t j = 0; j < limit; j++) {
            s[j] = expf(s[j] - m_new);
            sum += s[j];
        }
        *rows->l[r] = *rows->l[r] * corr + sum;
        *rows->m[r] = m_new;
        for (ptrdiff_t d = 0; d < dn; d++) {
            float a = acc[d] * corr;
            for (ptrdiff_t j = 0; j < limit; j++) a += s[j] * tile->v[j * tile->v_stride + d];
            acc[d] = a;
        }
    }
}

#ifdef CK_OPS_X86
// -------------------------------------------------------------------------------------------------- AVX2
CK_TARGET_AVX2 static void quad_update_avx2(const key_tile *tile, const row_quad *rows) {
    ptrdiff_t dn = tile->head_dim;
    const float *kt = tile->kt;
    __m256 lo[QR], hi[QR];
    for (int r = 0; r < QR; r++) lo[r] = hi[r] = _mm256_setzero_ps();
    for (ptrdiff_t d = 0; d < dn; d++) {
        __m256 k0 = _mm256_loadu_ps(kt + d * KT), k1 = _mm256_loadu_ps(kt + d * KT + 8);
        for (int r = 0; r < QR; r++) {
            __m256 qv = _mm256_broadcast_ss(rows->q[r] + d);
            lo[r] = _mm256_fmadd_ps(qv, k0, lo[r]);
            hi[r] = _mm256_fmadd_ps(qv, k1, hi[r]);
        }
    }
    float p[QR][KT], corr[QR];
    ptrdiff_t jmax = 0;
    __m256 scale = _mm256_set1_ps(tile->scale), neg_inf = _mm256_set1_ps(-INFINITY);
    for (int r = 0; r < QR; r++) {
        ptrdiff_t limit = rows->limit[r];
        if (limit <= 0) {  // untouched: weight 1 for the old state, 0 for every key
            corr[r] = 1.0f;
            memset(p[r], 0, sizeof(p[r]));
            continue;
        }
        jmax = limit > jmax ? limit : jmax;
        __m256 valid_lo = _mm256_castsi256_ps(ck256_tail_mask(limit));
        __m256 valid_hi = _mm256_castsi256_ps(ck256_tail_mask(limit - 8));
        __m256 s_lo = _mm256_blendv_ps(neg_inf, _mm256_mul_ps(lo[r], scale), valid_lo);
        __m256 s_hi = _mm256_blendv_ps(neg_inf, _mm256_mul_ps(hi[r], scale), valid_hi);
        float m_new;
        corr[r] = rescale_factor(*rows->m[r], ck256_hmax(_mm256_max_ps(s_lo, s_hi)), &m_new);
        __m256 mb = _mm256_set1_ps(m_new);
        __m256 p_lo = ck256_exp(_mm256_sub_ps(s_lo, mb)), p_hi = ck256_exp(_mm256_sub_ps(s_hi, mb));
        *rows->l[r] = *rows->l[r] * corr[r] + ck256_hsum(_mm256_add_ps(p_lo, p_hi));
        *rows->m[r] = m_new;
        _mm256_storeu_ps(p[r], p_lo);
        _mm256_storeu_ps(p[r] + 8, p_hi);
    }
    if (jmax == 0) return;

    const float *v = tile->v;
    ptrdiff_t vs = tile->v_stride;
    for (ptrdiff_t c = 0; c < dn; c += 16) {
        __m256i k0 = ck256_tail_mask(dn - c), k1 = ck256_tail_mask(dn - c - 8);
        __m256 o0[QR], o1[QR];
        for (int r = 0; r < QR; r++) {
            __m256 cv = _mm256_set1_ps(corr[r]);
            o0[r] = _mm256_mul_ps(_mm256_maskload_ps(rows->acc[r] + c, k0), cv);
            o1[r] = _mm256_mul_ps(_mm256_maskload_ps(rows->acc[r] + c + 8, k1), cv);
        }
        for (ptrdiff_t j = 0; j < jmax; j++) {
            __m256 v0 = _mm256_maskload_ps(v + j * vs + c, k0), v1 = _mm256_maskload_ps(v + j * vs + c + 8, k1);
            for (int r = 0; r < QR; r++) {
                __m256 pj = _mm256_broadcast_ss(&p[r][j]);
                o0[r] = _mm256_fmadd_ps(pj, v0, o0[r]);
                o1[r] = _mm256_fmadd_ps(pj, v1, o1[r]);
            }
        }
        for (int r = 0; r < QR; r++) {
            _mm256_maskstore_ps(rows->acc[r] + c, k0, o0[r]);
            _mm256_maskstore_ps(rows->acc[r] + c + 8, k1, o1[r]);
        }
    }
}

// ------------------------------------------------------------------------------------------------ AVX-512
/// R rows (4 or 8) against a tile of up to 32 keys ([D][32] transposed keys). Scores: an R x 32 register tile
/// (2R accumulators), each d step loading two key vectors and R broadcast query values. Softmax: per row, the
/// tile max, then the rescale factors of all rows in one vector exp. Output: R rows x (8 / R * 16) columns of
/// accumulators per pass over the tile's values, each value vector loaded once per pass for all R rows.
/// One vector whose lane i is the sum of the lanes of a[i] (a 16-way horizontal-sum tree: 32-bit and 64-bit
/// interleaves, then two rounds of 128-bit lane exchanges).
CK_TARGET_AVX512 CK_INLINE __m512 hsum16_avx512(const __m512 a[16]) {
    __m512 b[8], c[4];
    for (int i = 0; i < 8; i++)
        b[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
    for (int i = 0; i < 4; i++) {
        __m512d lo = _mm512_castps_pd(b[2 * i]), hi = _mm512_castps_pd(b[2 * i + 1]);
        c[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi)), _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi)));
    }
    // c[i], 128-bit block L: partial sums over block L of a[4i ... 4i+3].
    __m512 e0 = _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(1, 0, 1, 0)),
                              _mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 e1 = _mm512_add_ps(_mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(1, 0, 1, 0)),
                              _mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(e0, e1, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(e0, e1, _MM_SHUFFLE(3, 1, 3, 1)));
}

/// Scores of 4 rows against keys [0, 16) of a tile read in place (no transpose): lane j of s[r] = q_r . k_j.
/// For few rows per kv head (decode) this is cheaper than transposing the tile: each group of 4 keys x 4 rows
/// accumulates 16 vectors over d, and one horizontal-sum tree turns them into 16 scores. Keys at or beyond nk
/// (lanes the caller masks) read key 0 instead.
CK_TARGET_AVX512 CK_INLINE void scores_4x16_direct(const float *const q[4], const float *k, ptrdiff_t ks,
                                                   ptrdiff_t nk, ptrdiff_t dn, __m512 s[4]) {
    __m512 x[4];
    for (int g = 0; g < 4; g++) {
        const float *kr[4];
        for (int jj = 0; jj < 4; jj++) {
            ptrdiff_t j = 4 * g + jj;
            kr[jj] = k + (j < nk ? j : 0) * ks;
        }
        __m512 a[16];
        for (int i = 0; i < 16; i++) a[i] = _mm512_setzero_ps();
        ptrdiff_t c = 0;
        for (; c + 16 <= dn; c += 16) {
            __m512 kv[4];
            for (int jj = 0; jj < 4; jj++) kv[jj] = _mm512_loadu_ps(kr[jj] + c);
            for (int r = 0; r < 4; r++) {
                __m512 qv = _mm512_loadu_ps(q[r] + c);
                for (int jj = 0; jj < 4; jj++) a[4 * r + jj] = _mm512_fmadd_ps(qv, kv[jj], a[4 * r + jj]);
            }
        }
        if (c < dn) {
            __mmask16 m = ck512_tail_mask(dn - c);
            __m512 kv[4];
            for (int jj = 0; jj < 4; jj++) kv[jj] = _mm512_maskz_loadu_ps(m, kr[jj] + c);
            for (int r = 0; r < 4; r++) {
                __m512 qv = _mm512_maskz_loadu_ps(m, q[r] + c);
                for (int jj = 0; jj < 4; jj++) a[4 * r + jj] = _mm512_fmadd_ps(qv, kv[jj], a[4 * r + jj]);
            }
        }
        x[g] = hsum16_avx512(a);  // block r: row r, keys 4g ... 4g+3
    }
    // s[r], block g = x[g], block r (a 4 x 4 transpose of 128-bit blocks).
    __m512 u0 = _mm512_shuffle_f32x4(x[0], x[1], _MM_SHUFFLE(1, 0, 1, 0));
    __m512 u1 = _mm512_shuffle_f32x4(x[0], x[1], _MM_SHUFFLE(3, 2, 3, 2));
    __m512 u2 = _mm512_shuffle_f32x4(x[2], x[3], _MM_SHUFFLE(1, 0, 1, 0));
    __m512 u3 = _mm512_shuffle_f32x4(x[2], x[3], _MM_SHUFFLE(3, 2, 3, 2));
    s[0] = _mm512_shuffle_f32x4(u0, u2, _MM_SHUFFLE(2, 0, 2, 0));
    s[1] = _mm512_shuffle_f32x4(u0, u2, _MM_SHUFFLE(3, 1, 3, 1));
    s[2] = _mm512_shuffle_f32x4(u1, u3, _MM_SHUFFLE(2, 0, 2, 0));
    s[3] = _mm512_shuffle_f32x4(u1, u3, _MM_SHUFFLE(3, 1, 3, 1));
}

CK_TARGET_AVX512 CK_INLINE void rows_update_avx512(const key_tile *tile, const row_quad *rows, const int R,
                                                   const int direct) {
    ptrdiff_t dn = tile->head_dim;
    const float *kt = tile->kt;
    const float *q[QR_MAX];
    for (int r = 0; r < R; r++) q[r] = rows->q[r];
    __m512 s0[QR_MAX], s1[QR_MAX];
    if (direct) {  // R == 4, keys in place
        scores_4x16_direct(q, tile->k, tile->k_stride, tile->nk, dn, s0);
        if (tile->nk > 16) {
            scores_4x16_direct(q, tile->k + 16 * tile->k_stride, tile->k_stride, tile->nk - 16, dn, s1);
        } else {
            for (int r = 0; r < 4; r++) s1[r] = _mm512_setzero_ps();
        }
    } else {
        for (int r = 0; r < R; r++) s0[r] = s1[r] = _mm512_setzero_ps();
        for (ptrdiff_t d = 0; d < dn; d++) {
            __m512 k0 = _mm512_loadu_ps(kt + d * KT_MAX), k1 = _mm512_loadu_ps(kt + d * KT_MAX + 16);
            for (int r = 0; r < R; r++) {
                __m512 qb = _mm512_set1_ps(q[r][d]);
                s0[r] = _mm512_fmadd_ps(qb, k0, s0[r]);
                s1[r] = _mm512_fmadd_ps(qb, k1, s1[r]);
            }
        }
    }
    _Alignas(64) float p[QR_MAX][KT_MAX];
    _Alignas(64) float m_old[16], m_new[16];
    ptrdiff_t jmax = 0;
    __m512 scale = _mm512_set1_ps(tile->scale), neg_inf = _mm512_set1_ps(-INFINITY);
    for (int r = 0; r < R; r++) {
        ptrdiff_t limit = rows->limit[r];
        m_old[r] = *rows->m[r];
        if (limit <= 0) {  // untouched: the old state keeps weight 1, every key weight 0
            m_new[r] = m_old[r];
            continue;
        }
        jmax = limit > jmax ? limit : jmax;
        s0[r] = _mm512_mask_mul_ps(neg_inf, ck512_tail_mask(limit), s0[r], scale);
        s1[r] = _mm512_mask_mul_ps(neg_inf, ck512_tail_mask(limit - 16), s1[r], scale);
        float tile_max = _mm512_reduce_max_ps(_mm512_max_ps(s0[r], s1[r]));
        m_new[r] = m_old[r] > tile_max ? m_old[r] : tile_max;
    }
    if (jmax == 0) return;
    // corr = e^(m_old - m_new): 0 for a row that had no key yet (m_old = -inf), 1 for an untouched row.
    __mmask16 live = ck512_tail_mask(R);
    __m512 mo = _mm512_maskz_load_ps(live, m_old), mn = _mm512_maskz_load_ps(live, m_new);
    __mmask16 fresh = _mm512_cmp_ps_mask(mo, neg_inf, _CMP_EQ_OQ);
    __m512 diff = _mm512_mask_mov_ps(_mm512_sub_ps(mo, mn), fresh, neg_inf);
    _Alignas(64) float corr[16];
    _mm512_store_ps(corr, ck512_exp(_mm512_mask_mov_ps(diff, (__mmask16)~live, _mm512_setzero_ps())));
    for (int r = 0; r < R; r++) {
        if (rows->limit[r] <= 0) {
            corr[r] = 1.0f;
            _mm512_store_ps(p[r], _mm512_setzero_ps());
            _mm512_store_ps(p[r] + 16, _mm512_setzero_ps());
            continue;
        }
        __m512 mb = _mm512_set1_ps(m_new[r]);
        __m512 p0 = ck512_exp(_mm512_sub_ps(s0[r], mb)), p1 = ck512_exp(_mm512_sub_ps(s1[r], mb));
        *rows->l[r] = *rows->l[r] * corr[r] + _mm512_reduce_add_ps(_mm512_add_ps(p0, p1));
        *rows->m[r] = m_new[r];
        _mm512_store_ps(p[r], p0);
        _mm512_store_ps(p[r] + 16, p1);
    }

    const float *v = tile->v;
    ptrdiff_t vs = tile->v_stride;
    enum { CW = 4 };  // column vectors per pass for 4 rows (8 rows: 2)
    const int cw = R == 8 ? 2 : CW;
    for (ptrdiff_t c = 0; c < dn; c += 16 * cw) {
        __mmask16 km[CW];
        for (int i = 0; i < cw; i++) km[i] = ck512_tail_mask(dn - c - 16 * i);
        __m512 o[QR_MAX][CW];
        for (int r = 0; r < R; r++) {
            __m512 cv = _mm512_set1_ps(corr[r]);
            for (int i = 0; i < cw; i++)
                o[r][i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(km[i], rows->acc[r] + c + 16 * i), cv);
        }
        for (ptrdiff_t j = 0; j < jmax; j++) {
            const float *vj = v + j * vs + c;
            __m512 vv[CW];
            for (int i = 0; i < cw; i++) vv[i] = _mm512_maskz_loadu_ps(km[i], vj + 16 * i);
            for (int r = 0; r < R; r++) {
                __m512 pj = _mm512_set1_ps(p[r][j]);
                for (int i = 0; i < cw; i++) o[r][i] = _mm512_fmadd_ps(pj, vv[i], o[r][i]);
            }
        }
        for (int r = 0; r < R; r++)
            for (int i = 0; i < cw; i++) _mm512_mask_storeu_ps(rows->acc[r] + c + 16 * i, km[i], o[r][i]);
    }
}

CK_TARGET_AVX512 static void quad_update_avx512(const key_tile *tile, const row_quad *rows) {
    if (rows->n <= 4) rows_update_avx512(tile, rows, 4, 0);
    else rows_update_avx512(tile, rows, 8, 0);
}

/// Four rows (the driver never fills more) against a tile read in place: no transposed tile needed.
CK_TARGET_AVX512 static void quad_update_direct_avx512(const key_tile *tile, const row_quad *rows) {
    rows_update_avx512(tile, rows, 4, 1);
}
#endif

// ------------------------------------------------------------------------------------------------ driver
/// Scratch layout: transposed key tile [KT_MAX * D], acc [RB * D], m [RB], l [RB], then one dummy row (acc [D], m, l)
/// that pads the last quad of a block.
size_t ck_attention_scratch_floats(ptrdiff_t head_dim) {
    return (size_t)(KT_MAX * head_dim + RB * head_dim + 2 * RB + head_dim + 2);
}

/// Number of keys query t may see.
static ptrdiff_t visible_keys(const ck_attention_args *a, ptrdiff_t t) {
    if (!a->causal) return a->n_keys;
    ptrdiff_t n = a->q_offset + t + 1;
    if (n < 0) n = 0;
    return n < a->n_keys ? n : a->n_keys;
}

/// Writes keys [0, nk) of a tile (rows k_stride apart) transposed into kt [D][KT] (AVX-512: [D][KT_MAX]),
/// zero-padded to the tile size.
typedef void (*transpose_fn)(const float *k, ptrdiff_t k_stride, ptrdiff_t nk, ptrdiff_t dn, float *kt);

static void transpose_scalar(const float *k, ptrdiff_t k_stride, ptrdiff_t nk, ptrdiff_t dn, float *kt) {
    for (ptrdiff_t j = 0; j < nk; j++) {
        const float *kj = k + j * k_stride;
        for (ptrdiff_t d = 0; d < dn; d++) kt[d * KT + j] = kj[d];
    }
    for (ptrdiff_t j = nk; j < KT; j++)
        for (ptrdiff_t d = 0; d < dn; d++) kt[d * KT + j] = 0.0f;
}

#ifdef CK_OPS_X86
/// 8 x 8 blocks in registers (keys 0-7 and 8-15 of the tile separately): one load per key row and d chunk,
/// 32-bit interleaves, 64-bit shuffles, then 128-bit lane exchanges.
CK_TARGET_AVX2 static void transpose_avx2(const float *k, ptrdiff_t k_stride, ptrdiff_t nk, ptrdiff_t dn, float *kt) {
    for (ptrdiff_t c = 0; c < dn; c += 8) {
        __m256i dmask = ck256_tail_mask(dn - c);
        for (int half = 0; half < 2; half++) {
            __m256 r[8], t[8], u[8];
            for (int j = 0; j < 8; j++) {
                ptrdiff_t key = 8 * half + j;
                r[j] = key < nk ? _mm256_maskload_ps(k + key * k_stride + c, dmask) : _mm256_setzero_ps();
            }
            for (int i = 0; i < 4; i++) {
                t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            // u[4g + e], lane L: keys 4g ... 4g+3 at d = 4L + e.
            for (int g = 0; g < 2; g++) {
                u[4 * g] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
                u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
                u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
                u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
            }
            for (int e = 0; e < 4; e++) {
                ptrdiff_t d0 = c + e, d1 = c + 4 + e;
                if (d0 < dn) _mm256_storeu_ps(kt + d0 * KT + 8 * half, _mm256_permute2f128_ps(u[e], u[4 + e], 0x20));
                if (d1 < dn) _mm256_storeu_ps(kt + d1 * KT + 8 * half, _mm256_permute2f128_ps(u[e], u[4 + e], 0x31));
            }
        }
    }
}

/// 16 x 16 blocks in registers: whole-cache-line loads of each key row, then 64 shuffles per block
/// (32-bit and 64-bit interleaves inside 128-bit lanes, then two rounds of 128-bit lane exchanges).
CK_TARGET_AVX512 CK_INLINE void transpose16_avx512(const float *k, ptrdiff_t k_stride, ptrdiff_t nk, ptrdiff_t dn,
                                                  float *kt) {
    for (ptrdiff_t c = 0; c < dn; c += 16) {
        __mmask16 dmask = ck512_tail_mask(dn - c);
        __m512 r[16], a[16], b[16];
        for (int j = 0; j < 16; j++)
            r[j] = j < nk ? _mm512_maskz_loadu_ps(dmask, k + j * k_stride + c) : _mm512_setzero_ps();
        // a[2i], a[2i+1], lane L: rows 2i, 2i+1 interleaved at d = 4L, 4L+1 and 4L+2, 4L+3.
        for (int i = 0; i < 8; i++) {
            a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        // b[4g + e], lane L: rows 4g ... 4g+3 at d = 4L + e.
        for (int g = 0; g < 4; g++) {
            __m512d lo0 = _mm512_castps_pd(a[4 * g]), hi0 = _mm512_castps_pd(a[4 * g + 2]);
            __m512d lo1 = _mm512_castps_pd(a[4 * g + 1]), hi1 = _mm512_castps_pd(a[4 * g + 3]);
            b[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, hi0));
            b[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, hi0));
            b[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo1, hi1));
            b[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo1, hi1));
        }
        // For each e, lanes form a 4 x 4 transpose across b[e], b[4+e], b[8+e], b[12+e]: column d = 4L + e.
        for (int e = 0; e < 4; e++) {
            __m512 x0 = _mm512_shuffle_f32x4(b[e], b[4 + e], _MM_SHUFFLE(1, 0, 1, 0));
            __m512 x1 = _mm512_shuffle_f32x4(b[e], b[4 + e], _MM_SHUFFLE(3, 2, 3, 2));
            __m512 x2 = _mm512_shuffle_f32x4(b[8 + e], b[12 + e], _MM_SHUFFLE(1, 0, 1, 0));
            __m512 x3 = _mm512_shuffle_f32x4(b[8 + e], b[12 + e], _MM_SHUFFLE(3, 2, 3, 2));
            __m512 col[4] = {
                _mm512_shuffle_f32x4(x0, x2, _MM_SHUFFLE(2, 0, 2, 0)),
                _mm512_shuffle_f32x4(x0, x2, _MM_SHUFFLE(3, 1, 3, 1)),
                _mm512_shuffle_f32x4(x1, x3, _MM_SHUFFLE(2, 0, 2, 0)),
                _mm512_shuffle_f32x4(x1, x3, _MM_SHUFFLE(3, 1, 3, 1)),
            };
            for (int lane = 0; lane < 4; lane++) {
                ptrdiff_t d = c + 4 * lane + e;
                if (d < dn) _mm512_storeu_ps(kt + d * KT_MAX, col[lane]);
            }
        }
    }
}

/// A 32-key tile as two 16-key halves (the second all zeros when the tile has 16 keys or fewer).
CK_TARGET_AVX512 static void transpose_avx512(const float *k, ptrdiff_t k_stride, ptrdiff_t nk, ptrdiff_t dn,
                                              float *kt) {
    transpose16_avx512(k, k_stride, nk < 16 ? nk : 16, dn, kt);
    if (nk > 16) {
        transpose16_avx512(k + 16 * k_stride, k_stride, nk - 16, dn, kt + 16);
    } else {
        for (ptrdiff_t d = 0; d < dn; d++) _mm512_storeu_ps(kt + d * KT_MAX + 16, _mm512_setzero_ps());
    }
}
#endif

/// Asks early for the key and value rows [kb, kb + nk) of kv head g, clipped to key_end. Rows sit a whole token
/// row apart (often a page), which the hardware prefetchers do not follow.
static void prefetch_head_tile(const ck_attention_args *a, ptrdiff_t g, ptrdiff_t kb, ptrdiff_t nk,
                               ptrdiff_t key_end) {
    ptrdiff_t end = kb + nk < key_end ? kb + nk : key_end;
    ptrdiff_t bytes = a->head_dim * (ptrdiff_t)sizeof(float);
    for (ptrdiff_t j = kb; j < end; j++) {
        const char *k = (const char *)(a->k + j * a->k_stride + g * a->head_dim);
        const char *v = (const char *)(a->v + j * a->v_stride + g * a->head_dim);
        for (ptrdiff_t off = 0; off < bytes; off += 64) {
            __builtin_prefetch(k + off, 0, 3);
            __builtin_prefetch(v + off, 0, 3);
        }
    }
}

/// What one call computes: the kernels of its level, the keys it covers, and where results go.
typedef struct {
    quad_update_fn update;
    transpose_fn transpose;
    quad_update_fn direct_update;  // NULL, or four rows against keys in place (no transpose), for few rows per kv head
    int tile_keys;           // keys per tile of this level (KT or KT_MAX)
    int group_rows;          // rows per update call of this level (QR or QR_MAX)
    ptrdiff_t k0, k1;        // key range [k0, k1) (all keys for ck_attention_f32)
    float *part_acc;         // NULL: normalised rows into args->out; else unnormalised partial rows here
    float *part_ml;          // partial running max and sum, two floats per row
    ptrdiff_t t0, h0, h1;    // the call's first token and head range (partial rows are numbered from them)
} attention_job;

/// One row block: tokens [ta, tb) x query heads [ha, hb) (possibly several kv groups), at most RB rows.
/// Keys are walked once, in tiles; inside a tile, kv head by kv head, so memory is read in address order.
static void attend_block(const ck_attention_args *a, const attention_job *job, ptrdiff_t ta, ptrdiff_t tb,
                         ptrdiff_t ha, ptrdiff_t hb, float *scratch) {
    ptrdiff_t dn = a->head_dim, nh = hb - ha, rows = (tb - ta) * nh;
    ptrdiff_t group = a->n_heads / a->n_kv_heads;
    ptrdiff_t tk = job->tile_keys;
    float *kt = scratch;
    float *acc = kt + KT_MAX * dn;
    float *m = acc + RB * dn;
    float *l = m + RB;
    float *dummy_acc = l + RB;
    float *dummy_m = dummy_acc + dn, *dummy_l = dummy_m + 1;
    memset(acc, 0, (size_t)(rows * dn) * sizeof(float));
    for (ptrdiff_t r = 0; r < rows; r++) { m[r] = -INFINITY; l[r] = 0.0f; }

    ptrdiff_t g0 = ha / group, g1 = (hb - 1) / group + 1;
    ptrdiff_t key_end = visible_keys(a, tb - 1);  // the last token sees the most keys
    if (key_end > job->k1) key_end = job->k1;
    for (ptrdiff_t kb = job->k0; kb < key_end; kb += tk) {
        ptrdiff_t nk = key_end - kb < tk ? key_end - kb : tk;
        for (ptrdiff_t g = g0; g < g1; g++) {
            // Few rows (decode): every key and value is read once, from memory. Asking for them PREFETCH_LEAD
            // (tile, kv head) steps ahead, one head's slice at a time, measured 0.8 of the read bandwidth with 2
            // threads against 0.5 without (whole next tiles at once, or one tile ahead, stalled on fill buffers).
            // Many rows (prefill): tiles are reused from cache and prefetches only cost issue slots.
            if (rows <= PREFETCH_MAX_ROWS) {
                ptrdiff_t ahead = (g - g0) + PREFETCH_LEAD, heads = g1 - g0;
                prefetch_head_tile(a, g0 + ahead % heads, kb + ahead / heads * tk, tk, key_end);
            }
            ptrdiff_t hs = g * group > ha ? g * group : ha, he = (g + 1) * group < hb ? (g + 1) * group : hb;
            const float *kg = a->k + kb * a->k_stride + g * dn;
            key_tile tile = {kt, kg, a->k_stride, nk, a->v + kb * a->v_stride + g * dn, a->v_stride, dn, a->scale};
            // At most four rows use this kv head (decode): scores straight from the keys beat transposing them.
            int direct = job->direct_update != NULL && (tb - ta) * (he - hs) <= 4;
            quad_update_fn update = direct ? job->direct_update : job->update;
            int gr = direct ? 4 : job->group_rows;
            if (!direct) job->transpose(kg, a->k_stride, nk, dn, kt);
            // Rows of this kv head: (t, h) for t in [ta, tb), h in [hs, he), four at a time.
            row_quad quad;
            int filled = 0;
            for (ptrdiff_t t = ta; t < tb; t++) {
                ptrdiff_t limit = visible_keys(a, t) - kb;
                if (limit <= 0) continue;
                if (limit > nk) limit = nk;
                for (ptrdiff_t h = hs; h < he; h++) {
                    ptrdiff_t r = (t - ta) * nh + (h - ha);
                    quad.q[filled] = a->q + t * a->q_stride + h * dn;
                    quad.acc[filled] = acc + r * dn;
                    quad.m[filled] = m + r;
                    quad.l[filled] = l + r;
                    quad.limit[filled] = limit;
                    if (++filled == gr) {
                        quad.n = filled;
                        update(&tile, &quad);
                        filled = 0;
                    }
                }
            }
            if (filled > 0) {
                quad.n = filled;
                for (int i = filled; i < gr; i++) {
                    quad.q[i] = quad.q[0];
                    quad.acc[i] = dummy_acc;
                    quad.m[i] = dummy_m;
                    quad.l[i] = dummy_l;
                    quad.limit[i] = 0;
                }
                update(&tile, &quad);
            }
        }
    }
    for (ptrdiff_t t = ta; t < tb; t++) {
        for (ptrdiff_t h = ha; h < hb; h++) {
            ptrdiff_t r = (t - ta) * nh + (h - ha);
            if (job->part_acc) {
                ptrdiff_t pr = (t - job->t0) * (job->h1 - job->h0) + (h - job->h0);
                memcpy(job->part_acc + pr * dn, acc + r * dn, (size_t)dn * sizeof(float));
                job->part_ml[2 * pr] = m[r];
                job->part_ml[2 * pr + 1] = l[r];
                continue;
            }
            float *o = a->out + t * a->out_stride + h * dn;
            float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
            for (ptrdiff_t d = 0; d < dn; d++) o[d] = acc[r * dn + d] * inv;
        }
    }
}

/// The kernels of the active level, and the keys and outputs of a whole call.
static attention_job job_for_level(ptrdiff_t k0, ptrdiff_t k1, ptrdiff_t t0, ptrdiff_t h0, ptrdiff_t h1) {
    attention_job job = {quad_update_scalar, transpose_scalar, NULL, KT, QR, k0, k1, NULL, NULL, t0, h0, h1};
#ifdef CK_OPS_X86
    ck_level level = ck_active_level();
    if (level >= CK_LEVEL_AVX512) {
        job.update = quad_update_avx512;
        job.transpose = transpose_avx512;
        job.direct_update = quad_update_direct_avx512;
        job.tile_keys = KT_MAX;
        job.group_rows = QR_MAX;
    } else if (level >= CK_LEVEL_AVX2) {
        job.update = quad_update_avx2;
        job.transpose = transpose_avx2;
    }
#endif
    return job;
}

static void run_job(const ck_attention_args *a, const attention_job *job, ptrdiff_t h0, ptrdiff_t h1, ptrdiff_t t0,
                    ptrdiff_t t1, float *scratch) {
    // Few rows (decode, short chunks): one block over all heads, so each key tile is read in address order.
    if ((h1 - h0) * (t1 - t0) <= RB) {
        attend_block(a, job, t0, t1, h0, h1, scratch);
        return;
    }
    // Prefill: one kv group at a time, as many tokens per block as fit, so each key tile serves many rows.
    ptrdiff_t group = a->n_heads / a->n_kv_heads;
    for (ptrdiff_t hs = h0; hs < h1;) {
        ptrdiff_t g = hs / group;
        ptrdiff_t he = (g + 1) * group < h1 ? (g + 1) * group : h1;
        if (he - hs > RB) he = hs + RB;
        ptrdiff_t tokens_per_block = RB / (he - hs);
        for (ptrdiff_t ts = t0; ts < t1; ts += tokens_per_block) {
            ptrdiff_t te = ts + tokens_per_block < t1 ? ts + tokens_per_block : t1;
            attend_block(a, job, ts, te, hs, he, scratch);
        }
        hs = he;
    }
}

void ck_attention_f32(const ck_attention_args *a, ptrdiff_t h0, ptrdiff_t h1, ptrdiff_t t0, ptrdiff_t t1,
                      float *scratch) {
    if (h0 >= h1 || t0 >= t1) return;
    attention_job job = job_for_level(0, a->n_keys, t0, h0, h1);
    run_job(a, &job, h0, h1, t0, t1, scratch);
}

void ck_attention_partial_f32(const ck_attention_args *a, ptrdiff_t h0, ptrdiff_t h1, ptrdiff_t t0, ptrdiff_t t1,
                              ptrdiff_t k0, ptrdiff_t k1, float *part_acc, float *part_ml, float *scratch) {
    if (h0 >= h1 || t0 >= t1) return;
    if (k0 < 0) k0 = 0;
    if (k1 > a->n_keys) k1 = a->n_keys;
    attention_job job = job_for_level(k0, k1, t0, h0, h1);
    job.part_acc = part_acc;
    job.part_ml = part_ml;
    ptrdiff_t rows = (t1 - t0) * (h1 - h0);
    if (k0 >= k1) {  // no keys: an empty partial
        memset(part_acc, 0, (size_t)(rows * a->head_dim) * sizeof(float));
        for (ptrdiff_t r = 0; r < rows; r++) { part_ml[2 * r] = -INFINITY; part_ml[2 * r + 1] = 0.0f; }
        return;
    }
    run_job(a, &job, h0, h1, t0, t1, scratch);
}

void ck_attention_combine_f32(const ck_attention_args *a, ptrdiff_t h0, ptrdiff_t h1, ptrdiff_t t0, ptrdiff_t t1,
                              const float *part_acc, const float *part_ml, ptrdiff_t n_parts) {
    ptrdiff_t dn = a->head_dim, nh = h1 - h0, rows = (t1 - t0) * nh;
    for (ptrdiff_t t = t0; t < t1; t++) {
        for (ptrdiff_t h = h0; h < h1; h++) {
            ptrdiff_t r = (t - t0) * nh + (h - h0);
            float m = -INFINITY;
            for (ptrdiff_t p = 0; p < n_parts; p++) {
                float mp = part_ml[p * 2 * rows + 2 * r];
                m = mp > m ? mp : m;
            }
            float *o = a->out + t * a->out_stride + h * dn;
            for (ptrdiff_t d = 0; d < dn; d++) o[d] = 0.0f;
            if (m == -INFINITY) continue;  // no part saw a key
            float l = 0.0f;
            for (ptrdiff_t p = 0; p < n_parts; p++) {
                float mp = part_ml[p * 2 * rows + 2 * r];
                if (mp == -INFINITY) continue;
                float w = expf(mp - m);
                l += part_ml[p * 2 * rows + 2 * r + 1] * w;
                const float *acc = part_acc + (p * rows + r) * dn;
                for (ptrdiff_t d = 0; d < dn; d++) o[d] += acc[d] * w;
            }
            float inv = 1.0f / l;
            for (ptrdiff_t d = 0; d < dn; d++) o[d] *= inv;
        }
    }
}
