// Tensor: a shape, a dtype and 64-byte aligned storage that is either owned or borrowed (e.g. a
// view into an mmap'd checkpoint, kept alive by a shared owner). Row-major, contiguous.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace segq {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);  // "[2, 3, 4]"
int64_t shape_numel(const Shape& s);

constexpr size_t kTensorAlignment = 64;

// Owned, aligned, uninitialized bytes. Freed with the last reference.
std::shared_ptr<void> aligned_alloc_bytes(size_t bytes);

class Tensor {
 public:
  Tensor() = default;

  // Owned storage, 64-byte aligned; contents uninitialized.
  static Tensor empty(DType dtype, Shape shape);
  static Tensor zeros(DType dtype, Shape shape);
  // Borrowed storage: `keep_alive` owns whatever `data` points into (may be null for static data).
  static Tensor borrow(DType dtype, Shape shape, void* data, std::shared_ptr<void> keep_alive);
  // Owned fp32 tensor copied from values (tests, small constants).
  static Tensor from_vector(const std::vector<float>& values, Shape shape);

  bool defined() const { return data_ != nullptr || shape_numel(shape_) == 0; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_.at(i < 0 ? i + ndim() : i); }
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <class T>
  T* data() {
    check_dtype(dtype_of<T>::value);
    return static_cast<T*>(data_);
  }
  template <class T>
  const T* data() const {
    check_dtype(dtype_of<T>::value);
    return static_cast<const T*>(data_);
  }

  // Same storage, new shape with the same element count.
  Tensor reshape(Shape shape) const;
  // Deep copy into owned storage.
  Tensor clone() const;
  // Converts F32/F16/BF16/F64 to an owned F32 tensor (a no-op copy for F32).
  Tensor to_f32() const;

 private:
  void check_dtype(DType want) const;

  DType dtype_ = DType::F32;
  Shape shape_;
  std::shared_ptr<void> owner_;
  void* data_ = nullptr;
};

}  // namespace segq
