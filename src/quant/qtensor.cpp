#include "quant/qtensor.h"

namespace segq {

WeightView QTensor::view() const {
  WeightView v;
  v.format = format;
  v.rows = rows;
  v.cols = cols;
  v.codes = codes.raw();
  v.scales = scales.defined() && scales.numel() ? scales.raw() : nullptr;
  v.shifts = !symmetric && shifts.defined() ? shifts.raw() : nullptr;
  v.scale_dtype = scales.numel() ? scales.dtype() : DType::F32;
  v.group_size = group_size;
  v.groups_per_row = groups_per_row();
  v.row_stride_bytes = rows ? static_cast<int64_t>(codes.nbytes()) / rows : 0;
  v.symmetric = symmetric;
  return v;
}

size_t QTensor::stored_bytes() const {
  size_t b = codes.nbytes() + scales.nbytes();
  if (!symmetric) b += shifts.nbytes();
  return b;
}

}  // namespace segq
