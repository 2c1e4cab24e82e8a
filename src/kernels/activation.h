// Elementwise activations and their scalar references.
#pragma once

#include <cstdint>

namespace segq {

enum class Activation : uint8_t { kNone, kRelu, kGelu };

const char* activation_name(Activation a);

// GELU, exact erf form: x * (1 + erf(x / sqrt 2)) / 2, computed in double and rounded once (the
// reference the vectorized version is tested against;
// torch.nn.functional.gelu(approximate="none")).
float gelu_ref(float x);
float activation_ref(Activation a, float x);

// y[i] = gelu(x[i]) for i < n (in place allowed). Dispatches on kernel_isa().
void gelu(const float* x, int64_t n, float* y);
void gelu_ref(const float* x, int64_t n, float* y);
void gelu_avx2(const float* x, int64_t n, float* y);

// x[i] = max(x[i], 0) for i < n. One implementation (exact; the compiler vectorizes it).
void relu_inplace(float* x, int64_t n);

}  // namespace segq
