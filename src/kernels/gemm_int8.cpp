#include "kernels/gemm_int8.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/decode_layout.h"
#include "kernels/isa.h"
#include "kernels/scratch.h"

namespace segq {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

float scale_to_f32(const WeightView& w, int64_t row) {
  switch (w.scale_dtype) {
    case DType::F32:
      return static_cast<const float*>(w.scales)[row * w.groups_per_row];
    case DType::F16:
      return f16_to_f32(static_cast<const uint16_t*>(w.scales)[row * w.groups_per_row]);
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(w.scales)[row * w.groups_per_row]);
    default:
      break;
  }
  throw Error(str_cat("int8 weight: unsupported scale dtype ", dtype_name(w.scale_dtype)));
}

// The epilogue of gemm.h on y = float(acc) * sa * sw, one multiply or add per step (no FMA), in
// the order the AVX2 path uses.
inline void finish_ref(int32_t acc, float sa, float sw, int64_t col, const GemmEpilogue& ep,
                       float* out) {
  float y = static_cast<float>(acc) * sa;
  y = y * sw;
  if (ep.accumulate) {
    *out = *out + (ep.bias ? y + ep.bias[col] : y);
    return;
  }
  if (ep.scale) y = y * ep.scale[col];
  if (ep.bias) y = y + ep.bias[col];
  *out = activation_ref(ep.act, y);
}

// Row block height for the threaded drivers: at most ~64 KiB of quantized rows (L2 resident),
// a multiple of 4, and at least two blocks per thread when M allows.
int64_t row_block(int64_t m, int64_t k4, int threads) {
  int64_t rb = std::clamp<int64_t>(65536 / std::max<int64_t>(k4, 1), 4, 256) / 4 * 4;
  if (threads > 1)
    rb = std::min(rb, std::max<int64_t>(4, ceil_div(ceil_div(m, 2 * threads), 4) * 4));
  return rb;
}

}  // namespace

size_t GemmI8Weights::bytes() const {
  return static_cast<size_t>(ceil_div(rows, kGemmNr) * kGemmNr * gemm_i8_row_bytes(cols)) +
         static_cast<size_t>(rows) * sizeof(float);
}

GemmI8Weights gemm_i8_pack_weights(const WeightView& w) {
  if (w.format != WeightFormat::INT8 || !w.symmetric || w.groups_per_row != 1) {
    throw Error(str_cat("int8 GEMM: the weight must be symmetric per-channel int8, got ",
                        weight_format_name(w.format), w.symmetric ? "" : " (affine)", " with ",
                        w.groups_per_row, " group(s) per row"));
  }
  if (w.cols > kGemmI8MaxK) {
    throw Error(str_cat("int8 GEMM: K = ", w.cols,
                        " exceeds the exact int32 range (K <= ", kGemmI8MaxK, ")"));
  }
  GemmI8Weights p;
  p.rows = w.rows;
  p.cols = w.cols;
  const int64_t k4 = gemm_i8_row_bytes(w.cols);
  const int64_t strips = ceil_div(w.rows, kGemmNr);
  const size_t panel_bytes = static_cast<size_t>(strips * kGemmNr * k4);
  p.storage = aligned_alloc_bytes(std::max<size_t>(64, panel_bytes + w.rows * sizeof(float)));
  int8_t* dst = static_cast<int8_t*>(p.storage.get());
  std::memset(dst, 0, panel_bytes);
  const int bias = int_code_bias(WeightFormat::INT8, true);
  for (int64_t n = 0; n < w.rows; ++n) {
    const uint8_t* codes = static_cast<const uint8_t*>(w.codes) + n * w.row_stride_bytes;
    int8_t* strip = dst + (n / kGemmNr) * kGemmNr * k4;
    const int64_t j = n % kGemmNr;
    for (int64_t k = 0; k < w.cols; ++k) {
      strip[((k / 4) * kGemmNr + j) * 4 + k % 4] = static_cast<int8_t>(codes[k] - bias);
    }
  }
  float* scales = reinterpret_cast<float*>(dst + panel_bytes);
  for (int64_t n = 0; n < w.rows; ++n) scales[n] = scale_to_f32(w, n);
  p.panels = dst;
  p.scales = scales;
  return p;
}

void quantize_rows_i8_ref(int64_t m, int64_t k, const float* a, int64_t lda, int8_t* qa,
                          int64_t ldq, float* sa) {
  const int64_t k4 = gemm_i8_row_bytes(k);
  for (int64_t r = 0; r < m; ++r) {
    const float* x = a + r * lda;
    int8_t* q = qa + r * ldq;
    float amax = 0.0f;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    sa[r] = amax / 127.0f;
    for (int64_t i = 0; i < k; ++i) {
      const float t = std::nearbyint(x[i] * inv);
      q[i] = static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, t)));
    }
    for (int64_t i = k; i < k4; ++i) q[i] = 0;
  }
}

void gemm_i8_acc_ref(int64_t m, const int8_t* qa, int64_t ldq, const GemmI8Weights& w, int32_t* acc,
                     int64_t ldacc) {
  const int64_t k4 = gemm_i8_row_bytes(w.cols);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t n = 0; n < w.rows; ++n) {
      const int8_t* strip = w.panels + (n / kGemmNr) * kGemmNr * k4;
      const int64_t j = n % kGemmNr;
      int32_t s = 0;
      for (int64_t k = 0; k < w.cols; ++k) {
        s += static_cast<int32_t>(qa[i * ldq + k]) * strip[((k / 4) * kGemmNr + j) * 4 + k % 4];
      }
      acc[i * ldacc + n] = s;
    }
  }
}

void gemm_i8(int64_t m, const float* a, int64_t lda, const GemmI8Weights& w, float* c, int64_t ldc,
             const GemmEpilogue& ep) {
  if (kernel_isa() == KernelIsa::kAvx2) {
    gemm_i8_avx2(m, a, lda, w, c, ldc, ep);
  } else {
    gemm_i8_ref(m, a, lda, w, c, ldc, ep);
  }
}

void gemm_i8_ref(int64_t m, const float* a, int64_t lda, const GemmI8Weights& w, float* c,
                 int64_t ldc, const GemmEpilogue& ep) {
  assert(!ep.accumulate || (ep.scale == nullptr && ep.act == Activation::kNone));
  const int64_t n = w.rows, k4 = gemm_i8_row_bytes(w.cols);
  if (m <= 0 || n <= 0) return;
  const int64_t rb = row_block(m, k4, global_pool().num_threads());
  global_pool().parallel_for(
      ceil_div(m, rb), 1, ThreadPool::RangeFn([&](int64_t t0, int64_t t1, int) {
        const size_t qa_floats = static_cast<size_t>(ceil_div(rb * k4, 4));
        float* buf =
            thread_scratch(ScratchSlot::kGemmI8Rows, qa_floats + static_cast<size_t>(rb + n * rb));
        int8_t* qa = reinterpret_cast<int8_t*>(buf);
        float* sa = buf + qa_floats;
        int32_t* acc = reinterpret_cast<int32_t*>(sa + rb);
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t i0 = t * rb, rows = std::min(rb, m - i0);
          quantize_rows_i8_ref(rows, w.cols, a + i0 * lda, lda, qa, k4, sa);
          gemm_i8_acc_ref(rows, qa, k4, w, acc, n);
          for (int64_t i = 0; i < rows; ++i) {
            for (int64_t j = 0; j < n; ++j) {
              finish_ref(acc[i * n + j], sa[i], w.scales[j], j, ep, c + (i0 + i) * ldc + j);
            }
          }
        }
      }));
}

void gemm_i8_avx2(int64_t m, const float* a, int64_t lda, const GemmI8Weights& w, float* c,
                  int64_t ldc, const GemmEpilogue& ep) {
  assert(!ep.accumulate || (ep.scale == nullptr && ep.act == Activation::kNone));
  const int64_t n = w.rows, k4 = gemm_i8_row_bytes(w.cols);
  if (m <= 0 || n <= 0) return;
  const int64_t rb = row_block(m, k4, global_pool().num_threads());
  global_pool().parallel_for(
      ceil_div(m, rb), 1, ThreadPool::RangeFn([&](int64_t t0, int64_t t1, int) {
        const size_t qa_floats = static_cast<size_t>(ceil_div(rb * k4, 4));
        float* buf = thread_scratch(ScratchSlot::kGemmI8Rows, qa_floats + static_cast<size_t>(rb));
        int8_t* qa = reinterpret_cast<int8_t*>(buf);
        float* sa = buf + qa_floats;
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t i0 = t * rb, rows = std::min(rb, m - i0);
          quantize_rows_i8_avx2(rows, w.cols, a + i0 * lda, lda, qa, k4, sa);
          gemm_i8_detail::rows_avx2(rows, qa, k4, sa, w, c + i0 * ldc, ldc, ep, nullptr, 0);
        }
      }));
}

void gemm_i8_acc_avx2(int64_t m, const int8_t* qa, int64_t ldq, const GemmI8Weights& w,
                      int32_t* acc, int64_t ldacc) {
  gemm_i8_detail::rows_avx2(m, qa, ldq, nullptr, w, nullptr, 0, {}, acc, ldacc);
}

}  // namespace segq
