#include "quant/qtensor.h"

namespace segq {

WeightView QTensor::view() const {
  WeightView v;
  v.format = format;
  v.rows = rows;
  v.cols = cols;
  v.codes = codes.raw();
  v.scales = scales.raw();
  v.shifts = symmetric ? nullptr : shifts.raw();
  v.scale_dtype = scales.raw() ? scales.dtype() : DType::F32;
  v.group_size = group_size;
  v.groups_per_row = groups_per_row();
  v.row_stride_bytes = rows ? static_cast<int64_t>(codes.nbytes()) / rows : 0;
  v.symmetric = symmetric;
  return v;
}

size_t QTensor::stored_bytes() const {
  // An undefined Tensor has shape [] (one element) and would report 4 bytes.
  auto held = [](const Tensor& t) { return t.defined() && t.raw() ? t.nbytes() : size_t{0}; };
  size_t b = held(codes) + held(scales);
  if (!symmetric) b += held(shifts);
  return b;
}

}  // namespace segq
