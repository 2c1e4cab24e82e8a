#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "core/half.h"

namespace segq {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::shared_ptr<void> aligned_alloc_bytes(size_t bytes) {
  const size_t rounded = (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
  void* p = std::aligned_alloc(kTensorAlignment, rounded == 0 ? kTensorAlignment : rounded);
  if (!p) throw Error(str_cat("out of memory allocating ", bytes, " bytes"));
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

Tensor Tensor::empty(DType dtype, Shape shape) {
  for (int64_t d : shape) SEGQ_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.owner_ = aligned_alloc_bytes(t.nbytes());
  t.data_ = t.owner_.get();
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t = empty(dtype, std::move(shape));
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::borrow(DType dtype, Shape shape, void* data, std::shared_ptr<void> keep_alive) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.owner_ = std::move(keep_alive);
  t.data_ = data;
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, Shape shape) {
  SEGQ_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "from_vector: ",
             values.size(), " values for shape ", shape_str(shape));
  Tensor t = empty(DType::F32, std::move(shape));
  if (!values.empty()) std::memcpy(t.data_, values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::reshape(Shape shape) const {
  SEGQ_CHECK(shape_numel(shape) == numel(), "reshape ", shape_str(shape_), " to ",
             shape_str(shape), ": element counts differ");
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(dtype_, shape_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

Tensor Tensor::to_f32() const {
  Tensor out = empty(DType::F32, shape_);
  float* dst = static_cast<float*>(out.data_);
  const int64_t n = numel();
  switch (dtype_) {
    case DType::F32:
      if (n) std::memcpy(dst, data_, nbytes());
      break;
    case DType::F16: {
      const uint16_t* src = static_cast<const uint16_t*>(data_);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
      break;
    }
    case DType::BF16: {
      const uint16_t* src = static_cast<const uint16_t*>(data_);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
      break;
    }
    case DType::F64: {
      const double* src = static_cast<const double*>(data_);
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
      break;
    }
    default:
      throw Error(str_cat("cannot convert a ", dtype_name(dtype_), " tensor to F32"));
  }
  return out;
}

void Tensor::check_dtype(DType want) const {
  if (want != dtype_) {
    throw Error(str_cat("tensor of dtype ", dtype_name(dtype_), " accessed as ", dtype_name(want)));
  }
}

}  // namespace segq
