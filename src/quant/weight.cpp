#include "quant/weight.h"

namespace segq {

Weight Weight::dense(Tensor t) {
  Weight w;
  w.dense_ = t.dtype() == DType::F32 ? std::move(t) : t.to_f32();
  return w;
}

Weight Weight::quantized(std::shared_ptr<const QTensor> q) {
  SEGQ_CHECK(q != nullptr, "Weight::quantized: null QTensor");
  Weight w;
  w.q_ = std::move(q);
  return w;
}

const Tensor& Weight::dense_tensor() const {
  SEGQ_CHECK(!is_quantized(), "weight is quantized (", weight_format_name(q_->format),
             "); no dense tensor is held");
  return dense_;
}

const QTensor& Weight::qtensor() const {
  SEGQ_CHECK(is_quantized(), "weight is not quantized");
  return *q_;
}

WeightView Weight::view() const {
  if (is_quantized()) return q_->view();
  WeightView v;
  v.format = WeightFormat::F32;
  v.rows = dense_.ndim() == 0 ? 1 : dense_.dim(0);
  v.cols = v.rows == 0 ? 0 : dense_.numel() / v.rows;
  v.codes = dense_.raw();
  v.group_size = v.cols;
  v.row_stride_bytes = v.cols * static_cast<int64_t>(sizeof(float));
  return v;
}

size_t Weight::stored_bytes() const { return is_quantized() ? q_->stored_bytes() : dense_.nbytes(); }

}  // namespace segq
