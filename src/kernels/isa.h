// Which kernel implementation runs: the scalar reference or the AVX2/FMA path. Decided once per
// process from core/cpu.h use_avx2() (so SEGQ_FORCE_SCALAR=1 selects the reference everywhere);
// tests and benchmarks may switch it to run both paths in one process.
#pragma once

namespace segq {

enum class KernelIsa { kRef, kAvx2 };

const char* kernel_isa_name(KernelIsa isa);
// The implementation every dispatching kernel uses now.
KernelIsa kernel_isa();
bool kernel_isa_available(KernelIsa isa);
// Tests/benchmarks only: switches every kernel to `isa` (throws segq::Error if the CPU lacks it).
// Must not be called while kernels run.
void set_kernel_isa(KernelIsa isa);

// Sets an ISA for a scope and restores the previous one.
class ScopedKernelIsa {
 public:
  explicit ScopedKernelIsa(KernelIsa isa) : saved_(kernel_isa()) { set_kernel_isa(isa); }
  ~ScopedKernelIsa() { set_kernel_isa(saved_); }
  ScopedKernelIsa(const ScopedKernelIsa&) = delete;
  ScopedKernelIsa& operator=(const ScopedKernelIsa&) = delete;

 private:
  KernelIsa saved_;
};

}  // namespace segq
