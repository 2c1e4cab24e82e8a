#include "kernels/activation.h"

#include <cmath>

#include "kernels/isa.h"

namespace segq {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kNone:
      return "none";
    case Activation::kRelu:
      return "relu";
    case Activation::kGelu:
      return "gelu";
  }
  return "?";
}

float gelu_ref(float x) {
  const double xd = x;
  // erfc(-x/sqrt2)/2 instead of (1 + erf)/2 keeps relative accuracy for large negative x.
  return static_cast<float>(0.5 * xd * std::erfc(-xd * 0.70710678118654752440));
}

float activation_ref(Activation a, float x) {
  switch (a) {
    case Activation::kNone:
      return x;
    case Activation::kRelu:
      return x > 0.0f ? x : 0.0f;
    case Activation::kGelu:
      return gelu_ref(x);
  }
  return x;
}

void gelu_ref(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = gelu_ref(x[i]);
}

void relu_inplace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void gelu(const float* x, int64_t n, float* y) {
  if (kernel_isa() == KernelIsa::kAvx2) {
    gelu_avx2(x, n, y);
  } else {
    gelu_ref(x, n, y);
  }
}

}  // namespace segq
