// Scaled dot-product attention, f32, with grouped-query heads: causal prefill (query position offset),
// single-row decode over a KV cache, and bidirectional (vision) attention. Flash-attention style: keys are
// processed in tiles of at most CK_ATTENTION_KEY_TILE with an online softmax, so no [T, Tk] score matrix exists.
#ifndef CK_OPS_ATTENTION_H
#define CK_OPS_ATTENTION_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Most keys per tile of the online softmax (the AVX-512 path; AVX2 and scalar use 16).
#define CK_ATTENTION_KEY_TILE 32
/// Most (query row, head) pairs processed together against one key tile.
#define CK_ATTENTION_ROW_BLOCK 256

/// Shapes and layouts of one attention call. All strides are in floats.
typedef struct {
    const float *q;        ///< query t, head h at `q + t * q_stride + h * head_dim`            ([T, Hq, D])
    ptrdiff_t q_stride;
    const float *k;        ///< key j, kv head g at `k + j * k_stride + g * head_dim`           ([Tk, Hkv, D])
    ptrdiff_t k_stride;    ///  (a KV cache with capacity > Tk just passes its own row stride)
    const float *v;        ///< value j, kv head g at `v + j * v_stride + g * head_dim`         ([Tk, Hkv, D])
    ptrdiff_t v_stride;
    float *out;            ///< output t, head h at `out + t * out_stride + h * head_dim`       ([T, Hq, D])
    ptrdiff_t out_stride;
    ptrdiff_t n_queries;   ///< T
    ptrdiff_t n_keys;      ///< Tk
    ptrdiff_t n_heads;     ///< Hq, a multiple of n_kv_heads; query head h uses kv head h / (Hq / Hkv)
    ptrdiff_t n_kv_heads;  ///< Hkv
    ptrdiff_t head_dim;    ///< D, any size >= 1
    int causal;            ///< 1: query t sees keys 0 ... q_offset + t (and no key >= n_keys); 0: all keys
    ptrdiff_t q_offset;    ///< position of query 0 among the keys (past length) when causal
    float scale;           ///< score scale, normally 1 / sqrt(head_dim)
} ck_attention_args;

/// Floats of scratch one ck_attention_f32 call needs (per thread) for a given head_dim.
size_t ck_attention_scratch_floats(ptrdiff_t head_dim);

/// Attention for query heads [h0, h1) and query rows [t0, t1):
/// `out[t, h] = softmax_j(scale * q[t, h] . k[j, g]) @ v[:, g]` over the visible keys j, g = h / (Hq / Hkv).
/// A query that sees no key gets zeros. Decode is the case n_queries = 1 with q_offset = n_keys - 1.
/// `scratch` holds ck_attention_scratch_floats(head_dim) floats. No allocation, no threads: callers split
/// [h0, h1) and [t0, t1) across threads (different ranges write disjoint outputs).
void ck_attention_f32(const ck_attention_args *args, ptrdiff_t h0, ptrdiff_t h1, ptrdiff_t t0, ptrdiff_t t1,
                      float *scratch);

/// Split-key attention, part 1 (long caches with more threads than heads): the same rows as ck_attention_f32 but
/// only keys [k0, k1) (intersected with what each query may see). Row (t, h) is numbered
/// `r = (t - t0) * (h1 - h0) + (h - h0)`; its unnormalised output goes to `part_acc + r * head_dim`, its running
/// max and sum to `part_ml[2r]`, `part_ml[2r + 1]` (-inf and 0 when it saw no key). Same scratch as
/// ck_attention_f32.
void ck_attention_partial_f32(const ck_attention_args *args, ptrdiff_t h0, ptrdiff_t h1, ptrdiff_t t0, ptrdiff_t t1,
                              ptrdiff_t k0, ptrdiff_t k1, float *part_acc, float *part_ml, float *scratch);

/// Split-key attention, part 2: merges `n_parts` partials of the same rows (from ck_attention_partial_f32 over
/// disjoint key ranges) into `args->out`: `out = sum_p acc_p e^(m_p - m) / sum_p l_p e^(m_p - m)`, m = max_p m_p.
/// With R = (t1 - t0) * (h1 - h0) rows, part p's outputs start at `part_acc + p * R * head_dim` and its max/sum
/// pairs at `part_ml + p * 2 * R`. Rows no part saw a key for get zeros.
void ck_attention_combine_f32(const ck_attention_args *args, ptrdiff_t h0, ptrdiff_t h1, ptrdiff_t t0, ptrdiff_t t1,
                              const float *part_acc, const float *part_ml, ptrdiff_t n_parts);

#ifdef __cplusplus
}
#endif
#endif
