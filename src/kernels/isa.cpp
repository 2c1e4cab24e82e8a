#include "kernels/isa.h"

#include <atomic>

#include "core/cpu.h"
#include "core/error.h"

namespace segq {

namespace {
std::atomic<int>& isa_slot() {
  static std::atomic<int> slot{static_cast<int>(use_avx2() ? KernelIsa::kAvx2 : KernelIsa::kRef)};
  return slot;
}
}  // namespace

const char* kernel_isa_name(KernelIsa isa) { return isa == KernelIsa::kAvx2 ? "avx2" : "ref"; }

KernelIsa kernel_isa() {
  return static_cast<KernelIsa>(isa_slot().load(std::memory_order_relaxed));
}

bool kernel_isa_available(KernelIsa isa) {
  if (isa == KernelIsa::kRef) return true;
  const CpuFeatures& f = cpu_features();
  return f.avx2 && f.fma && f.f16c && f.bmi2;
}

void set_kernel_isa(KernelIsa isa) {
  SEGQ_CHECK(kernel_isa_available(isa), "kernel ISA ", kernel_isa_name(isa),
             " is not supported by this CPU");
  isa_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace segq
