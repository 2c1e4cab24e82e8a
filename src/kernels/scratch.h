// Per-thread scratch buffers owned by the kernels (decoded weight panels, attention score blocks,
// packed keys/values). Each buffer only grows, so after the first forward there are no more
// allocations. A slot's pointer is valid until the same thread asks for that slot again.
#pragma once

#include <cstddef>

namespace segq {

enum class ScratchSlot : int {
  kGemmPanel = 0,
  kGemmRefPanel,
  kGemmI8Rows,
  kAttention,
  kDepthwise,
  kCount
};

// 64-byte aligned, uninitialized, at least `floats` floats.
float* thread_scratch(ScratchSlot slot, size_t floats);

}  // namespace segq
