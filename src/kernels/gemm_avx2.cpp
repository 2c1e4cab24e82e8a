// The AVX2/FMA GEMM compute: a 6x16 register-tile microkernel (12 accumulators, 2 B loads and one
// A broadcast per k) and the macro-kernel that walks one (M range, N tile, K tile) block.
#include "kernels/gemm.h"
#include "kernels/gemm_internal.h"
#include "kernels/vec_math_avx2.h"

namespace segq {
namespace gemm_detail {
namespace {

static inline __m256 apply_act(__m256 v, Activation act) {
  if (act == Activation::kRelu) return _mm256_max_ps(v, _mm256_setzero_ps());
  if (act == Activation::kGelu) return gelu_ps_avx2(v);
  return v;
}

static inline __m256 load_lanes(const float* p, int lanes, __m256i mask) {
  return lanes >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}
static inline void store_lanes(float* p, int lanes, __m256i mask, __m256 v) {
  if (lanes >= 8) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, mask, v);
  }
}

// Applies the tile epilogue to one row's 16 (nr valid) accumulators and stores them.
static inline void finish_row(__m256 v0, __m256 v1, float* c, int nr, const TileEpilogue& e,
                              __m256 bias0, __m256 bias1, __m256 scale0, __m256 scale1,
                              __m256i mask0, __m256i mask1) {
  const int lanes0 = nr < 8 ? nr : 8;
  const int lanes1 = nr - 8;
  if (e.bias_first) {
    v0 = _mm256_add_ps(v0, bias0);
    v1 = _mm256_add_ps(v1, bias1);
  }
  if (e.load_c) {
    v0 = _mm256_add_ps(load_lanes(c, lanes0, mask0), v0);
    if (lanes1 > 0) v1 = _mm256_add_ps(load_lanes(c + 8, lanes1, mask1), v1);
  }
  if (e.final_ops) {
    if (e.scale) {
      v0 = _mm256_fmadd_ps(v0, scale0, bias0);
      v1 = _mm256_fmadd_ps(v1, scale1, bias1);
    } else if (e.bias) {
      v0 = _mm256_add_ps(v0, bias0);
      v1 = _mm256_add_ps(v1, bias1);
    }
    v0 = apply_act(v0, e.act);
    v1 = apply_act(v1, e.act);
  }
  store_lanes(c, lanes0, mask0, v0);
  if (lanes1 > 0) store_lanes(c + 8, lanes1, mask1, v1);
}

// C[R x nr] of one K tile. b: kc x 16 floats, 64-byte aligned.
template <int R>
static void ukernel_f32_6x16(int kc, const float* a, int64_t lda, const float* b, float* c,
                             int64_t ldc, int nr, const TileEpilogue& e) {
  __m256 acc0[R];
  __m256 acc1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    acc0[r] = _mm256_setzero_ps();
    acc1[r] = _mm256_setzero_ps();
  }
  for (int k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b + k * 16);
    const __m256 b1 = _mm256_load_ps(b + k * 16 + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(a + r * lda + k);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
  }
  const int lanes0 = nr < 8 ? nr : 8;
  const int lanes1 = nr - 8;
  const __m256i mask0 = tail_mask_avx2(lanes0);
  const __m256i mask1 = tail_mask_avx2(lanes1 > 0 ? lanes1 : 0);
  __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
  __m256 scale0 = _mm256_setzero_ps(), scale1 = _mm256_setzero_ps();
  if (e.bias) {
    bias0 = load_lanes(e.bias, lanes0, mask0);
    if (lanes1 > 0) bias1 = load_lanes(e.bias + 8, lanes1, mask1);
  }
  if (e.scale) {
    scale0 = load_lanes(e.scale, lanes0, mask0);
    if (lanes1 > 0) scale1 = load_lanes(e.scale + 8, lanes1, mask1);
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    finish_row(acc0[r], acc1[r], c + r * ldc, nr, e, bias0, bias1, scale0, scale1, mask0, mask1);
  }
}

using UkernelFn = void (*)(int, const float*, int64_t, const float*, float*, int64_t, int,
                           const TileEpilogue&);
constexpr UkernelFn kUkernels[kGemmMr + 1] = {nullptr,
                                              ukernel_f32_6x16<1>,
                                              ukernel_f32_6x16<2>,
                                              ukernel_f32_6x16<3>,
                                              ukernel_f32_6x16<4>,
                                              ukernel_f32_6x16<5>,
                                              ukernel_f32_6x16<6>};

}  // namespace

void macro_f32_6x16_avx2(int64_t m, int64_t n, int kc, const float* a, int64_t lda, const float* b,
                         int64_t b_strip_stride, float* c, int64_t ldc, const TileEpilogue& e) {
  for (int64_t i = 0; i < m; i += kGemmMr) {
    const int rows = static_cast<int>(m - i < kGemmMr ? m - i : kGemmMr);
    const UkernelFn fn = kUkernels[rows];
    for (int64_t j = 0; j < n; j += kGemmNr) {
      const int cols = static_cast<int>(n - j < kGemmNr ? n - j : kGemmNr);
      TileEpilogue ej = e;
      if (ej.bias) ej.bias += j;
      if (ej.scale) ej.scale += j;
      fn(kc, a + i * lda, lda, b + (j / kGemmNr) * b_strip_stride, c + i * ldc + j, ldc, cols, ej);
    }
  }
}

}  // namespace gemm_detail

void gemm_packed_serial_avx2(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                             const float* b_packed, float* c, int64_t ldc, const GemmEpilogue& ep) {
  gemm_detail::TileEpilogue e;
  e.bias = ep.bias;
  e.scale = ep.scale;
  e.act = ep.act;
  e.bias_first = ep.accumulate;
  e.load_c = ep.accumulate;
  e.final_ops = !ep.accumulate;
  gemm_detail::macro_f32_6x16_avx2(m, n, static_cast<int>(k), a, lda, b_packed, k * kGemmNr, c, ldc,
                                   e);
}

}  // namespace segq
