#include "kernels/gemm.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/gemm_internal.h"
#include "kernels/isa.h"
#include "kernels/scratch.h"

namespace segq {

namespace {

typedef float Float4 __attribute__((vector_size(16)));

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// K tile depth: all of K up to 512, else about equal tiles of at most ~512 whose boundaries fall
// on quantization-group boundaries (and multiples of 8), so a format's decode_panel never starts
// mid-group or mid-byte (k0 is a multiple of lcm(group, 8) whenever that is <= 512).
int64_t pick_kc(int64_t k, int64_t group_size) {
  if (k <= 512) return std::max<int64_t>(k, 1);
  int64_t align = 8;
  if (group_size > 0 && group_size < k) {
    const int64_t g = std::lcm(group_size, int64_t{8});
    if (g <= 512) align = g;
  }
  const int64_t tiles = ceil_div(k, 512);
  return std::max(align, ceil_div(ceil_div(k, tiles), align) * align);
}

// N tile width: a kc x nc panel of up to 1 MiB (L2/L3). Each 6-row A micro-panel (L1) meets the
// whole panel, so A — the large operand (e.g. 16384 x 1024 in b0's linear_fuse) — is read from
// memory once per K tile instead of once per N tile; measured on b0/b2 head shapes (Zen 3):
// 1 MiB panels ~25 % faster than 192 KiB ones.
int64_t pick_nc(int64_t n, int64_t kc) {
  const int64_t strips = std::max<int64_t>(1, (1024 * 1024) / (kc * 4 * kGemmNr));
  return std::min(ceil_div(n, kGemmNr), strips) * kGemmNr;
}

}  // namespace

const WeightFormatKernels& weight_decoders_for_isa(WeightFormat f) {
  return kernel_isa() == KernelIsa::kAvx2 ? weight_format_kernels(f) : weight_format_kernels_ref(f);
}

int64_t gemm_packed_floats(int64_t n, int64_t k) { return ceil_div(n, kGemmNr) * kGemmNr * k; }

void gemm_pack_weights_into(const WeightView& w, float* dst) {
  const WeightFormatKernels& dec = weight_decoders_for_isa(w.format);
  for (int64_t n0 = 0; n0 < w.rows; n0 += kGemmNr) {
    const int nr = static_cast<int>(std::min<int64_t>(kGemmNr, w.rows - n0));
    // The whole K in one call per strip; decode_panel takes an int depth.
    for (int64_t k0 = 0; k0 < w.cols; k0 += (1 << 20)) {
      const int kc = static_cast<int>(std::min<int64_t>(1 << 20, w.cols - k0));
      dec.decode_panel(w, n0, nr, k0, kc, dst + (n0 / kGemmNr) * w.cols * kGemmNr + k0 * kGemmNr,
                       kGemmNr);
    }
  }
}

void gemm_pack_kn_into(int64_t k, int64_t n, const float* b, int64_t ldb, float* dst) {
  for (int64_t n0 = 0; n0 < n; n0 += kGemmNr) {
    const int64_t nr = std::min<int64_t>(kGemmNr, n - n0);
    float* strip = dst + (n0 / kGemmNr) * k * kGemmNr;
    for (int64_t kk = 0; kk < k; ++kk) {
      float* row = strip + kk * kGemmNr;
      std::memcpy(row, b + kk * ldb + n0, static_cast<size_t>(nr) * sizeof(float));
      for (int64_t j = nr; j < kGemmNr; ++j) row[j] = 0.0f;
    }
  }
}

GemmPackedWeights gemm_pack_weights(const WeightView& w) {
  GemmPackedWeights p;
  p.rows = w.rows;
  p.cols = w.cols;
  p.storage = aligned_alloc_bytes(std::max<size_t>(1, p.bytes()));
  float* dst = static_cast<float*>(p.storage.get());
  gemm_pack_weights_into(w, dst);
  p.panels = dst;
  return p;
}

void gemm(int64_t m, const float* a, int64_t lda, const GemmWeights& w, float* c, int64_t ldc,
          const GemmEpilogue& ep) {
  if (kernel_isa() == KernelIsa::kAvx2) {
    gemm_f32_avx2(m, a, lda, w, c, ldc, ep);
  } else {
    gemm_ref(m, a, lda, w, c, ldc, ep);
  }
}

void gemm_ref(int64_t m, const float* a, int64_t lda, const GemmWeights& w, float* c, int64_t ldc,
              const GemmEpilogue& ep) {
  assert(!ep.accumulate || (ep.scale == nullptr && ep.act == Activation::kNone));
  const int64_t n = w.view.rows;
  const int64_t k = w.view.cols;
  if (m <= 0 || n <= 0) return;
  const WeightFormatKernels& dec = weight_format_kernels_ref(w.view.format);
  // Each output is y = ((a0 w0 + a1 w1) + a2 w2) + ... in k order (float multiply, then add).
  // The 16 outputs of a strip are computed side by side in generic 4-lane vectors (GCC vector
  // extensions: SSE2 in the baseline build, no FMA): lanes are independent outputs, so every
  // output's arithmetic is exactly the scalar k-order sum, ~6x faster than a scalar loop (which
  // matters for SEGQ_FORCE_SCALAR runs and the sanitizer tests). Tasks: (strip, block of rows).
  constexpr int64_t kRowsPerTask = 64;
  const int64_t strips = ceil_div(n, kGemmNr);
  const int64_t row_blocks = ceil_div(m, kRowsPerTask);
  global_pool().parallel_for(
      strips * row_blocks, 1, ThreadPool::RangeFn([&](int64_t t0, int64_t t1, int) {
        int64_t decoded = -1;
        float* panel = thread_scratch(ScratchSlot::kGemmRefPanel,
                                      static_cast<size_t>(std::max<int64_t>(k, 1) * kGemmNr));
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t s = t / row_blocks;
          const int64_t n0 = s * kGemmNr;
          const int nr = static_cast<int>(std::min<int64_t>(kGemmNr, n - n0));
          if (decoded != s) {
            for (int64_t k0 = 0; k0 < k; k0 += (1 << 20)) {
              const int kc = static_cast<int>(std::min<int64_t>(1 << 20, k - k0));
              dec.decode_panel(w.view, n0, nr, k0, kc, panel + k0 * kGemmNr, kGemmNr);
            }
            decoded = s;
          }
          const int64_t i0 = (t % row_blocks) * kRowsPerTask;
          const int64_t i1 = std::min(m, i0 + kRowsPerTask);
          for (int64_t i = i0; i < i1; ++i) {
            const float* arow = a + i * lda;
            Float4 y0 = {0, 0, 0, 0}, y1 = y0, y2 = y0, y3 = y0;
            for (int64_t kk = 0; kk < k; ++kk) {
              const float av = arow[kk];
              const Float4* p = reinterpret_cast<const Float4*>(panel + kk * kGemmNr);
              y0 += av * p[0];
              y1 += av * p[1];
              y2 += av * p[2];
              y3 += av * p[3];
            }
            float y[kGemmNr];
            std::memcpy(y, &y0, 16);
            std::memcpy(y + 4, &y1, 16);
            std::memcpy(y + 8, &y2, 16);
            std::memcpy(y + 12, &y3, 16);
            for (int j = 0; j < nr; ++j) {
              const int64_t col = n0 + j;
              const float b = ep.bias ? ep.bias[col] : 0.0f;
              float& out = c[i * ldc + col];
              if (ep.accumulate) {
                out = out + (y[j] + b);
              } else {
                const float v = ep.scale ? y[j] * ep.scale[col] : y[j];
                out = activation_ref(ep.act, v + b);
              }
            }
          }
        }
      }));
}

void gemm_f32_avx2(int64_t m, const float* a, int64_t lda, const GemmWeights& w, float* c,
                   int64_t ldc, const GemmEpilogue& ep) {
  assert(!ep.accumulate || (ep.scale == nullptr && ep.act == Activation::kNone));
  const int64_t n = w.view.rows;
  const int64_t k = w.view.cols;
  if (m <= 0 || n <= 0) return;
  const int64_t kc_max = pick_kc(k, w.view.group_size);
  const int64_t nc = pick_nc(n, kc_max);
  const WeightFormatKernels* dec = w.packed ? nullptr : &weight_decoders_for_isa(w.view.format);

  // Tasks: M chunks (multiples of the 6-row tile) x N chunks (multiples of the N tile). Enough
  // tasks for dynamic balance over the threads; each task decodes its panels once for its rows.
  const int threads = global_pool().num_threads();
  const int64_t m_tiles = ceil_div(m, kGemmMr);
  const int64_t n_tiles = ceil_div(n, nc);
  const int64_t target_tasks = threads > 1 ? 4 * threads : 1;
  const int64_t m_chunks = std::min(m_tiles, target_tasks);
  const int64_t n_chunks = std::min(n_tiles, ceil_div(target_tasks, m_chunks));
  const int64_t m_chunk_rows = ceil_div(m_tiles, m_chunks) * kGemmMr;
  const int64_t n_chunk_cols = ceil_div(n_tiles, n_chunks) * nc;
  const int64_t tasks = ceil_div(m, m_chunk_rows) * ceil_div(n, n_chunk_cols);
  const int64_t n_task_cols = ceil_div(n, n_chunk_cols);

  global_pool().parallel_for(
      tasks, 1, ThreadPool::RangeFn([&](int64_t t0, int64_t t1, int) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t mi0 = (t / n_task_cols) * m_chunk_rows;
          const int64_t mi1 = std::min(m, mi0 + m_chunk_rows);
          const int64_t nj0 = (t % n_task_cols) * n_chunk_cols;
          const int64_t nj1 = std::min(n, nj0 + n_chunk_cols);
          for (int64_t n0 = nj0; n0 < nj1; n0 += nc) {
            const int64_t ncur = std::min(nc, nj1 - n0);
            const int64_t strips = ceil_div(ncur, kGemmNr);
            // K == 0 still runs one (empty) tile so the epilogue is applied.
            for (int64_t k0 = 0; k0 < std::max<int64_t>(k, 1); k0 += kc_max) {
              const int kc = static_cast<int>(std::min(kc_max, k - k0));
              const bool first = k0 == 0;
              const bool last = k0 + kc_max >= k;
              const float* panel;
              int64_t strip_stride;
              if (w.packed) {
                panel = w.packed + (n0 / kGemmNr) * k * kGemmNr + k0 * kGemmNr;
                strip_stride = k * kGemmNr;
              } else {
                float* buf = thread_scratch(ScratchSlot::kGemmPanel,
                                            static_cast<size_t>(strips * kc * kGemmNr));
                for (int64_t s = 0; s < strips; ++s) {
                  const int64_t col = n0 + s * kGemmNr;
                  const int nr = static_cast<int>(std::min<int64_t>(kGemmNr, n - col));
                  dec->decode_panel(w.view, col, nr, k0, kc, buf + s * kc * kGemmNr, kGemmNr);
                }
                panel = buf;
                strip_stride = static_cast<int64_t>(kc) * kGemmNr;
              }
              gemm_detail::TileEpilogue e;
              e.bias = ep.bias ? ep.bias + n0 : nullptr;
              e.scale = ep.scale ? ep.scale + n0 : nullptr;
              e.act = ep.act;
              if (ep.accumulate) {
                e.bias_first = first && ep.bias != nullptr;
                e.load_c = true;
                if (!first) e.bias = nullptr;
              } else {
                e.load_c = !first;
                e.final_ops = last;
              }
              if (!e.bias_first && !e.final_ops) e.bias = nullptr;
              gemm_detail::macro_f32_6x16_avx2(mi1 - mi0, ncur, kc, a + mi0 * lda + k0, lda, panel,
                                               strip_stride, c + mi0 * ldc + n0, ldc, e);
            }
          }
        }
      }));
}

}  // namespace segq
