// pytorch_model.bin as torch.save (>= 1.6) writes it: a zip archive with one top-level folder
// <archive>/ holding data.pkl (the pickled state dict), byteorder ("little"), version files, and
// data/<key> (the raw bytes of each storage, stored uncompressed). The pickle is interpreted by the
// restricted unpickler of io/torch_pickle.h, so loading never executes code from the file.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace segq {

struct PytorchBinFile {
  std::string path;
  // Tensors in pickle order, in their stored dtype; they share owned storage buffers (one per
  // torch storage), non-contiguous views are copied.
  std::vector<std::pair<std::string, Tensor>> tensors;
};

// Throws segq::Error naming the file and the problem: not a zip (or the legacy pre-1.6 format),
// corrupt archive, missing data.pkl or storage, big-endian data, disallowed pickle content.
PytorchBinFile read_pytorch_bin(const std::string& path);

}  // namespace segq
