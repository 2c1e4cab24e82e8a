#include "kernels/attention.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/isa.h"
#include "kernels/scratch.h"

namespace segq {

namespace {
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
constexpr int64_t kQueryBlock = 8 * kGemmMr;  // 48 queries: a 48 x 256 score block is 48 KiB
}  // namespace

void attention(const AttentionShape& s, const float* q, int64_t ldq, const float* k, int64_t ldk,
               const float* v, int64_t ldv, float scale, float* out, int64_t ldo) {
  if (kernel_isa() == KernelIsa::kAvx2) {
    attention_avx2(s, q, ldq, k, ldk, v, ldv, scale, out, ldo);
  } else {
    attention_ref(s, q, ldq, k, ldk, v, ldv, scale, out, ldo);
  }
}

void softmax_rows_ref(int64_t rows, int64_t n, float* x, int64_t ld, float scale) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * ld;
    float m = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
      row[j] = row[j] * scale;
      m = std::max(m, row[j]);
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      row[j] = std::exp(row[j] - m);
      sum += row[j];
    }
    for (int64_t j = 0; j < n; ++j) row[j] = row[j] / sum;
  }
}

void attention_ref(const AttentionShape& s, const float* q, int64_t ldq, const float* k,
                   int64_t ldk, const float* v, int64_t ldv, float scale, float* out, int64_t ldo) {
  // Every score is a sequential float sum over t, every output a sequential sum over j; loops are
  // arranged (K_h transposed per task) so the compiler can vectorize across independent outputs.
  const int64_t d = s.head_dim;
  constexpr int64_t kRowsPerTask = 64;
  const int64_t blocks = ceil_div(s.n_q, kRowsPerTask);
  const int64_t units = s.batch * s.heads * blocks;
  global_pool().parallel_for(units, 1, ThreadPool::RangeFn([&](int64_t u0, int64_t u1, int) {
                               float* kt = thread_scratch(ScratchSlot::kAttention,
                                                          static_cast<size_t>(s.n_kv * (d + 1)));
                               float* p = kt + s.n_kv * d;
                               for (int64_t u = u0; u < u1; ++u) {
                                 const int64_t blk = u % blocks;
                                 const int64_t h = (u / blocks) % s.heads;
                                 const int64_t b = u / (blocks * s.heads);
                                 const float* kb = k + b * s.n_kv * ldk + h * d;
                                 const float* vb = v + b * s.n_kv * ldv + h * d;
                                 for (int64_t j = 0; j < s.n_kv; ++j) {
                                   for (int64_t t = 0; t < d; ++t)
                                     kt[t * s.n_kv + j] = kb[j * ldk + t];
                                 }
                                 const int64_t i1 = std::min(s.n_q, (blk + 1) * kRowsPerTask);
                                 for (int64_t i = blk * kRowsPerTask; i < i1; ++i) {
                                   const float* qi = q + (b * s.n_q + i) * ldq + h * d;
                                   for (int64_t j = 0; j < s.n_kv; ++j) p[j] = 0.0f;
                                   for (int64_t t = 0; t < d; ++t) {
                                     const float qt = qi[t];
                                     const float* kr = kt + t * s.n_kv;
                                     for (int64_t j = 0; j < s.n_kv; ++j) p[j] += qt * kr[j];
                                   }
                                   softmax_rows_ref(1, s.n_kv, p, s.n_kv, scale);
                                   float* oi = out + (b * s.n_q + i) * ldo + h * d;
                                   for (int64_t e = 0; e < d; ++e) oi[e] = 0.0f;
                                   for (int64_t j = 0; j < s.n_kv; ++j) {
                                     const float pj = p[j];
                                     const float* vr = vb + j * ldv;
                                     for (int64_t e = 0; e < d; ++e) oi[e] += pj * vr[e];
                                   }
                                 }
                               }
                             }));
}

void attention_avx2(const AttentionShape& s, const float* q, int64_t ldq, const float* k,
                    int64_t ldk, const float* v, int64_t ldv, float scale, float* out,
                    int64_t ldo) {
  const int64_t d = s.head_dim;
  if (s.batch <= 0 || s.n_q <= 0 || s.heads <= 0 || d <= 0) return;
  // Tasks: (image, head, query range). Each task packs its head's K (d x n_kv) and V (n_kv x d)
  // once into the strip layout and then runs its query blocks.
  const int threads = global_pool().num_threads();
  const int64_t heads_total = s.batch * s.heads;
  const int64_t ranges_per_head = std::max<int64_t>(
      1, std::min(ceil_div(s.n_q, kQueryBlock), ceil_div(4 * threads, heads_total)));
  const int64_t range_rows = round_up(ceil_div(s.n_q, ranges_per_head), kQueryBlock);
  const int64_t ranges = ceil_div(s.n_q, range_rows);
  const int64_t k_floats = round_up(gemm_packed_floats(s.n_kv, d), 16);
  const int64_t v_floats = round_up(gemm_packed_floats(d, s.n_kv), 16);
  const int64_t s_floats = kQueryBlock * std::max<int64_t>(s.n_kv, 1);

  global_pool().parallel_for(
      heads_total * ranges, 1, ThreadPool::RangeFn([&](int64_t t0, int64_t t1, int) {
        float* buf = thread_scratch(ScratchSlot::kAttention,
                                    static_cast<size_t>(k_floats + v_floats + s_floats));
        float* k_packed = buf;
        float* v_packed = buf + k_floats;
        float* scores = buf + k_floats + v_floats;
        int64_t packed_for = -1;
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t bh = t / ranges;
          const int64_t b = bh / s.heads;
          const int64_t h = bh % s.heads;
          if (packed_for != bh) {
            WeightView kv;  // K_h as a [n_kv, d] "weight": scores = Q_h · K_hᵀ
            kv.format = WeightFormat::F32;
            kv.rows = s.n_kv;
            kv.cols = d;
            kv.codes = k + b * s.n_kv * ldk + h * d;
            kv.group_size = d;
            kv.row_stride_bytes = ldk * static_cast<int64_t>(sizeof(float));
            gemm_pack_weights_into(kv, k_packed);
            gemm_pack_kn_into(s.n_kv, d, v + b * s.n_kv * ldv + h * d, ldv, v_packed);
            packed_for = bh;
          }
          const int64_t r0 = (t % ranges) * range_rows;
          const int64_t r1 = std::min(s.n_q, r0 + range_rows);
          for (int64_t i = r0; i < r1; i += kQueryBlock) {
            const int64_t rows = std::min(kQueryBlock, r1 - i);
            const float* qb = q + (b * s.n_q + i) * ldq + h * d;
            gemm_packed_serial_avx2(rows, s.n_kv, d, qb, ldq, k_packed, scores, s.n_kv, {});
            softmax_rows_avx2(rows, s.n_kv, scores, s.n_kv, scale);
            gemm_packed_serial_avx2(rows, d, s.n_kv, scores, s.n_kv, v_packed,
                                    out + (b * s.n_q + i) * ldo + h * d, ldo, {});
          }
        }
      }));
}

}  // namespace segq
