// GEMM with a weight operand in any WeightFormat: C[M, N] (+)= epilogue(A[M, K] · Wᵀ), W [N, K].
//
// One driver serves every format: for each (N tile, K tile) it decodes the weight panel once, via
// the format's decode_panel (kernels/weight_format.h), into a thread-local packed buffer and reuses
// it for all rows of its M range; fp32 weights can instead be packed once (gemm_pack_weights) and
// are then read in place. The compute is an AVX2/FMA 6x16 register-tile microkernel over A read in
// place (no A packing: rows of A are short, K <= a few thousand, and stay in L1 per micro-panel).
// The scalar reference (gemm_ref) uses the reference decoders and sums every output in plain k
// order (float multiply, then add).
// Adding a format = adding its decoders to the weight-format table; nothing here changes.
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/activation.h"
#include "kernels/weight_format.h"

namespace segq {

constexpr int kGemmMr = 6;   // rows per microkernel tile
constexpr int kGemmNr = 16;  // columns per microkernel tile = packed strip width

// What happens to y = Σ_k A[m,k] W[n,k]:
//   accumulate == false:  C[m,n] = act(y * scale[n] + bias[n])    (scale, bias optional)
//   accumulate == true:   C[m,n] = C[m,n] + (y + bias[n])        (residual add; no scale/act)
struct GemmEpilogue {
  const float* bias = nullptr;   // [N] or null
  const float* scale = nullptr;  // [N] or null (e.g. eval BatchNorm folded to a scale and a bias)
  Activation act = Activation::kNone;
  bool accumulate = false;
};

// Packed strip layout: ceil(N/16) strips; strip s holds W[16 s + j][k] at [k * 16 + j] for
// k < K, j < 16 (columns past N are 0); strips are K * 16 floats apart.
int64_t gemm_packed_floats(int64_t n, int64_t k);
// Decodes any format into the strip layout (dst: gemm_packed_floats(w.rows, w.cols) floats).
void gemm_pack_weights_into(const WeightView& w, float* dst);
// Row-major B [K, N] (element (k, n) at b[k * ldb + n]) into the same strip layout.
void gemm_pack_kn_into(int64_t k, int64_t n, const float* b, int64_t ldb, float* dst);

struct GemmPackedWeights {
  std::shared_ptr<void> storage;
  const float* panels = nullptr;
  int64_t rows = 0;  // N
  int64_t cols = 0;  // K
  size_t bytes() const { return static_cast<size_t>(gemm_packed_floats(rows, cols)) * 4; }
};
// Owned packed copy (for fp32 weights at bind time).
GemmPackedWeights gemm_pack_weights(const WeightView& w);

// The decoders of `f` for the active kernel ISA (the reference decoders when it is kRef).
const WeightFormatKernels& weight_decoders_for_isa(WeightFormat f);

// The B operand. `packed`, when set, must be gemm_pack_weights(view).panels.
struct GemmWeights {
  WeightView view;  // W [N = view.rows, K = view.cols]
  const float* packed = nullptr;
};

// a: [M, K] with row stride lda; c: [M, N] with row stride ldc (c must not overlap a).
// Threaded over the global pool; dispatches on kernel_isa().
void gemm(int64_t m, const float* a, int64_t lda, const GemmWeights& w, float* c, int64_t ldc,
          const GemmEpilogue& ep = {});
void gemm_ref(int64_t m, const float* a, int64_t lda, const GemmWeights& w, float* c, int64_t ldc,
              const GemmEpilogue& ep = {});
void gemm_f32_avx2(int64_t m, const float* a, int64_t lda, const GemmWeights& w, float* c,
                   int64_t ldc, const GemmEpilogue& ep = {});

// Single-threaded AVX2 GEMM on packed strips (for use inside other kernels' parallel tasks):
// C[M, N] (+)= epilogue(A[M, K] · B) with B packed by gemm_pack_kn_into / gemm_pack_weights_into.
void gemm_packed_serial_avx2(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                             const float* b_packed, float* c, int64_t ldc, const GemmEpilogue& ep);

}  // namespace segq
