// Multi-head attention core (transformers' SegformerEfficientSelfAttention after the projections):
//   out[b, i, h*d + e] = Σ_j softmax_j(scale * Σ_t q[b, i, h*d + t] k[b, j, h*d + t]) v[b, j, h*d +
//   e]
// Heads split the channels head-major (h = 0..heads-1, d = head_dim). q: [batch, n_q, C] with row
// stride ldq; k, v: [batch, n_kv, C] with row strides ldk, ldv; out: [batch, n_q, C] with row
// stride ldo; C = heads * d. Image b starts at q + b * n_q * ldq (likewise k, v, out).
// The AVX2 path processes blocks of queries of one head against all n_kv keys: scores for the
// block (qb x n_kv) stay in L1/L2, go through the softmax and into P·V without leaving cache.
#pragma once

#include <cstdint>

namespace segq {

struct AttentionShape {
  int64_t batch = 1;
  int64_t n_q = 0;
  int64_t n_kv = 0;
  int64_t heads = 1;
  int64_t head_dim = 0;
};

void attention(const AttentionShape& s, const float* q, int64_t ldq, const float* k, int64_t ldk,
               const float* v, int64_t ldv, float scale, float* out, int64_t ldo);
// Reference: per query, scores by sequential float sums, std::exp, division by the sum.
void attention_ref(const AttentionShape& s, const float* q, int64_t ldq, const float* k,
                   int64_t ldk, const float* v, int64_t ldv, float scale, float* out, int64_t ldo);
void attention_avx2(const AttentionShape& s, const float* q, int64_t ldq, const float* k,
                    int64_t ldk, const float* v, int64_t ldv, float scale, float* out, int64_t ldo);

// Row softmax of scale * x over n columns for `rows` rows (row stride ld), in place.
void softmax_rows_ref(int64_t rows, int64_t n, float* x, int64_t ld, float scale);
void softmax_rows_avx2(int64_t rows, int64_t n, float* x, int64_t ld, float scale);
// exp of n values (the AVX2 exp used by the softmax; for tests).
void exp_avx2(const float* x, int64_t n, float* y);

}  // namespace segq
