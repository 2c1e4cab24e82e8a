// Run-time CPU feature detection: which kernel variants may run on this machine.
#pragma once

#include <string>

namespace segq {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool bmi2 = false;
};

const CpuFeatures& cpu_features();
// True when the AVX2+FMA+F16C kernels may be used: the CPU has them and SEGQ_FORCE_SCALAR is not
// set to a non-zero value. Decided once per process.
bool use_avx2();
// A human-readable CPU name from /proc/cpuinfo (or "unknown").
std::string cpu_model_name();

}  // namespace segq
