// A restricted unpickler for the data.pkl of torch.save checkpoints (state dicts). It interprets
// the pickle opcodes as data only: the sole callables it knows are collections.OrderedDict and
// torch's tensor rebuild functions, which it implements itself, and the storage types, which only
// appear as tags inside persistent ids. Any other global (os.system, builtins.eval, ...) and every
// opcode that instantiates arbitrary classes (INST, OBJ, NEWOBJ, EXT*) is refused with an error
// naming it. Nothing from the checkpoint is ever executed.
//
// Supported: pickle protocols 2-5 as torch.save writes them, persistent ids of the form
// ('storage', <torch.*Storage | torch.UntypedStorage>, key, location, numel),
// torch._utils._rebuild_tensor_v2 / _rebuild_tensor / _rebuild_parameter(_with_state),
// storage offsets and arbitrary non-negative strides (non-contiguous tensors are copied).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace segq {

// Returns the storage `key` as a 1-D tensor of `numel` elements of `dtype` (owned or borrowed);
// throws naming the storage when it is missing or has the wrong size. Called once per key.
using TorchStorageLoader =
    std::function<Tensor(const std::string& key, DType dtype, uint64_t numel)>;

// Parses `pickle` and returns the tensors of the state dict it describes, in pickle order. A
// top-level dict of tensors is the state dict; otherwise a dict entry "state_dict", "model",
// "module" or "model_state_dict" holding a dict of tensors is used. Non-tensor values inside the
// state dict are skipped. `where` prefixes every error (e.g. "x/pytorch_model.bin: data.pkl").
std::vector<std::pair<std::string, Tensor>> unpickle_torch_state_dict(
    std::string_view pickle, const TorchStorageLoader& load_storage, const std::string& where);

}  // namespace segq
