// Helpers for the quantized-kernel tests: a weight in a given method's storage format together with
// its dequantized fp32 value (the reference every kernel is compared against), random inputs, and
// the rounding-error constant gamma_n = n u / (1 - n u) (Higham, Accuracy and Stability of
// Numerical Algorithms, Lemma 3.1): a sum of n terms computed in any order with at most n
// roundings on each path from a term to the result is within gamma_n * Σ|term| of the exact sum.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "kernels/isa.h"
#include "quant/method.h"
#include "quant/quantize_tensor.h"
#include "quant/weight.h"

namespace segq::qtest {

constexpr double kU = 0x1p-24;  // unit roundoff of float

inline double gamma(double n) { return n * kU / (1.0 - n * kU); }

// Deterministic uniform floats in [lo, hi) (LCG), with every 97th value scaled by 6 when
// `outliers` (so quantization groups differ in range).
inline std::vector<float> random_values(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f,
                                        bool outliers = false) {
  std::vector<float> v(static_cast<size_t>(n));
  uint64_t s = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (int64_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(s >> 11) * 0x1p-53;
    v[i] = static_cast<float>(lo + (hi - lo) * u);
    if (outliers && i % 97 == 13) v[i] *= 6.0f;
  }
  return v;
}

// A weight stored as `method` stores it (fp32: dense), and its dequantized fp32 value.
struct TestWeight {
  std::string method;
  Weight stored;
  Weight dequantized;
  const float* values() const { return dequantized.dense_tensor().data<float>(); }
};

inline TestWeight make_test_weight(const std::string& method, const Shape& shape, uint32_t seed) {
  TestWeight t;
  t.method = method;
  const Tensor w =
      Tensor::from_vector(random_values(shape_numel(shape), seed, -0.5f, 0.5f, true), shape);
  const MethodSpec m = parse_method(method);
  if (!m.quantizes_weights()) {
    t.stored = Weight::dense(w);
    t.dequantized = t.stored;
    return t;
  }
  auto q = std::make_shared<QTensor>(quantize_tensor(w, tensor_quant_spec(m, shape)));
  t.dequantized = Weight::dense(dequantize(*q));
  t.stored = Weight::quantized(std::move(q));
  return t;
}

// Every storage format, with the group layouts that matter to the kernels: quanto's rule
// (per channel / 32 / 96 / 128 by row length), fixed groups that do and do not divide the row or
// the GEMM's K tiles (16, 32, 64, 96, 128, 528), per channel, symmetric, and 16-bit scales.
inline std::vector<std::string> all_formats() {
  return {"fp32",
          "bf16",
          "fp16",
          "fp8",
          "fp8-e5m2-s16",
          "int8",
          "int8-g64-sbf16-asym",
          "int4",
          "int4-g16",
          "int4-g32-s16",
          "int4-g64",
          "int4-g96",
          "int4-g128",
          "int4-g528",
          "int4-gc",
          "int4-sym",
          "int2",
          "int2-g16",
          "int2-g32-sym"};
}

// The ISAs this CPU runs (the reference always; AVX2 when available).
inline std::vector<KernelIsa> available_isas() {
  std::vector<KernelIsa> v = {KernelIsa::kRef};
  if (kernel_isa_available(KernelIsa::kAvx2)) v.push_back(KernelIsa::kAvx2);
  return v;
}

}  // namespace segq::qtest
