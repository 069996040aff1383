// Rotary position embedding, rotate-half convention (pairs (i, i + d/2)), from a precomputed cos/sin table.
#ifndef CK_OPS_ROPE_H
#define CK_OPS_ROPE_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/// Rotates, in place, every head of rows [r0, r1). Row r holds `n_heads` heads of `head_dim` (even) floats
/// starting at `x + r * row_stride`; its position is `positions[r]`. For i < d/2, with c = cos_table[p*d/2 + i]
/// and s = sin_table[p*d/2 + i]:
/// `x'[i] = x[i]*c - x[i+d/2]*s`, `x'[i+d/2] = x[i+d/2]*c + x[i]*s` (each product rounded, as PyTorch's
/// `q*cos + rotate_half(q)*sin`); identical results on every dispatch level.
/// The tables hold `head_dim / 2` floats per position; the caller guarantees every position is inside them.
void ck_rope_f32(float *x, ptrdiff_t row_stride, ptrdiff_t n_heads, ptrdiff_t head_dim, const int32_t *positions,
                 const float *cos_table, const float *sin_table, ptrdiff_t r0, ptrdiff_t r1);

#ifdef __cplusplus
}
#endif
#endif
