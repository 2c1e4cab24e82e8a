// Int8 GEMM for the w8a8 method: int8 per-channel weights times dynamically quantized per-token
// int8 activations, with exact integer accumulation:
//   C[m, n] (+)= epilogue(float(Σ_k qa[m, k] qw[n, k]) * sa[m] * sw[n])
// qa, sa: each row of the fp32 A [M, K] quantized symmetrically on its own (per token):
//   amax = max_k |a[m, k]|, sa = amax / 127, qa = clamp(nearbyint(a * (127 / amax)), -127, 127)
//   (a row of zeros gives sa = 0, qa = 0); qa never holds -128.
// qw, sw: a symmetric per-channel INT8 weight (quant/ codes c = qw + 128, qw in [-128, 127]; one
// scale per output row, any stored scale dtype).
//
// AVX2 scheme (no VNNI here): vpmaddubsw multiplies u8 by s8 and adds adjacent pairs into int16
// with saturation. Operands: u8 = |qw| (<= 128) and s8 = sign(qa, qw) = ±qa (|qa| <= 127, so the
// negation never wraps), hence a pair is at most 2 * 128 * 127 = 32512 < 32767: never saturates.
// vpmaddwd against ones widens to int32 (sum of 4 products) and vpaddd accumulates: exact while
// K * 128 * 127 < 2^31, i.e. K <= kGemmI8MaxK. The scalar reference sums in int32 in k order;
// both paths then apply the same float operations (one multiply by sa, one by sw, then the
// epilogue as separate multiply and add), so outputs are bit-identical apart from GELU (the AVX2
// GELU is within 12 ulp of the reference's).
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/gemm.h"
#include "kernels/weight_format.h"

namespace segq {

constexpr int64_t kGemmI8MaxK = (int64_t{1} << 31) / (128 * 127) - 1;  // 132103

// Activation rows are stored with K rounded up to a multiple of 4 (zero-padded).
inline int64_t gemm_i8_row_bytes(int64_t k) { return (k + 3) / 4 * 4; }

// Per-token quantization of A [M, K] (row stride lda) into qa [M, gemm_i8_row_bytes(K)] (row stride
// ldq >= that) and sa [M]. The AVX2 version is bit-identical to the reference.
void quantize_rows_i8_ref(int64_t m, int64_t k, const float* a, int64_t lda, int8_t* qa,
                          int64_t ldq, float* sa);
void quantize_rows_i8_avx2(int64_t m, int64_t k, const float* a, int64_t lda, int8_t* qa,
                           int64_t ldq, float* sa);

// The weight operand, packed once at bind time: strips of 16 output channels; strip s holds, for
// each group of 4 inputs kq, 16 x 4 signed bytes: byte [(kq * 16 + j) * 4 + t] = qw[16 s + j][4 kq
// + t] (0 past N or K). Strips are gemm_i8_row_bytes(K) * 16 bytes apart.
struct GemmI8Weights {
  std::shared_ptr<void> storage;
  const int8_t* panels = nullptr;
  const float* scales = nullptr;  // sw [N]
  int64_t rows = 0;               // N
  int64_t cols = 0;               // K
  size_t bytes() const;
};
// `w` must be INT8, symmetric, one group per row; throws segq::Error otherwise.
GemmI8Weights gemm_i8_pack_weights(const WeightView& w);

// a: [M, K] fp32 (row stride lda); c: [M, N] (row stride ldc; must not overlap a). Epilogue as in
// gemm.h, applied to y = float(acc) * sa[m] * sw[n]. Threaded over the global pool (row blocks:
// each task quantizes its rows once and runs them against every strip); dispatches on kernel_isa().
void gemm_i8(int64_t m, const float* a, int64_t lda, const GemmI8Weights& w, float* c, int64_t ldc,
             const GemmEpilogue& ep = {});
void gemm_i8_ref(int64_t m, const float* a, int64_t lda, const GemmI8Weights& w, float* c,
                 int64_t ldc, const GemmEpilogue& ep = {});
void gemm_i8_avx2(int64_t m, const float* a, int64_t lda, const GemmI8Weights& w, float* c,
                  int64_t ldc, const GemmEpilogue& ep = {});

// The integer core on already quantized rows (for tests): acc[M, N] (row stride ldacc) =
// Σ_k qa[m, k] qw[n, k], qa rows of gemm_i8_row_bytes(K) bytes (row stride ldq).
void gemm_i8_acc_ref(int64_t m, const int8_t* qa, int64_t ldq, const GemmI8Weights& w, int32_t* acc,
                     int64_t ldacc);
void gemm_i8_acc_avx2(int64_t m, const int8_t* qa, int64_t ldq, const GemmI8Weights& w,
                      int32_t* acc, int64_t ldacc);

namespace gemm_i8_detail {
// One row block on one thread: rows already quantized (qa, sa), every strip of w. AVX2.
void rows_avx2(int64_t m, const int8_t* qa, int64_t ldq, const float* sa, const GemmI8Weights& w,
               float* c, int64_t ldc, const GemmEpilogue& ep, int32_t* acc_out, int64_t ldacc);
}  // namespace gemm_i8_detail

}  // namespace segq
