// Between the GEMM driver (gemm.cpp) and its AVX2 macro-kernel (gemm_avx2.cpp). Not a public API.
#pragma once

#include <cstdint>

#include "kernels/activation.h"

namespace segq::gemm_detail {

// Per K tile: v = acc; if bias_first: v = v + bias; if load_c: v = C + v;
// if final_ops: v = act(v * scale + bias) (scale/bias optional). Pointers start at the tile's n0.
struct TileEpilogue {
  const float* bias = nullptr;
  const float* scale = nullptr;
  Activation act = Activation::kNone;
  bool bias_first = false;
  bool load_c = false;
  bool final_ops = false;
};

// C[0..m) x [0..n) of one K tile of depth kc: b holds ceil(n/16) strips of kc x 16 floats,
// `b_strip_stride` floats apart (64-byte aligned).
void macro_f32_6x16_avx2(int64_t m, int64_t n, int kc, const float* a, int64_t lda, const float* b,
                         int64_t b_strip_stride, float* c, int64_t ldc, const TileEpilogue& e);

}  // namespace segq::gemm_detail
