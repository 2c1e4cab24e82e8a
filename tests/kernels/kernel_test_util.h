// Helpers for the kernel tests: deterministic random data, float ulps, both-ISA iteration.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/isa.h"

namespace segq::testing {

constexpr double kU = 0x1p-24;  // unit roundoff of float (half an ulp of 1)

// Uniform in [lo, hi), deterministic (LCG).
inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::vector<float> v(n);
  uint64_t s = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    const double u = static_cast<double>(s >> 11) * 0x1p-53;
    v[i] = static_cast<float>(lo + (hi - lo) * u);
  }
  return v;
}

// Size of one ulp at |x| (float), for |x| >= FLT_MIN; FLT_TRUE_MIN below.
inline double ulp_of(double x) {
  const float f = static_cast<float>(std::fabs(x));
  if (f < std::numeric_limits<float>::min()) return std::numeric_limits<float>::denorm_min();
  return std::nextafter(f, std::numeric_limits<float>::infinity()) - f;
}

// The AVX2 path is the one under test; skip when the CPU lacks it.
#define SEGQ_REQUIRE_AVX2()                                             \
  do {                                                                  \
    if (!::segq::kernel_isa_available(::segq::KernelIsa::kAvx2))        \
      GTEST_SKIP() << "CPU lacks AVX2/FMA; only the reference can run"; \
  } while (0)

}  // namespace segq::testing
