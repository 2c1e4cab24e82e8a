#include "kernels/scratch.h"

#include <algorithm>
#include <memory>

#include "core/tensor.h"

namespace segq {

float* thread_scratch(ScratchSlot slot, size_t floats) {
  struct Buffer {
    std::shared_ptr<void> storage;
    size_t capacity = 0;
  };
  thread_local Buffer buffers[static_cast<int>(ScratchSlot::kCount)];
  Buffer& b = buffers[static_cast<int>(slot)];
  floats = std::max<size_t>(floats, 16);
  if (floats > b.capacity) {
    b.storage = aligned_alloc_bytes(floats * sizeof(float));
    b.capacity = floats;
  }
  return static_cast<float*>(b.storage.get());
}

}  // namespace segq
