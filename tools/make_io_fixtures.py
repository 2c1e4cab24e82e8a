#!/usr/bin/env python3
"""pytorch_model.bin variants for segq's restricted unpickler (tests/io/test_pytorch_bin.cpp).

Writes tests/fixtures/io/torch/<name>.bin with torch.save (torch 2.7.1, pinned in
tools/requirements.txt) and tests/fixtures/io/torch/expected.safetensors holding every tensor of
every file as "<name>/<key>", contiguous, so the C++ test can compare value by value.

Variants cover what torch.save emits for state dicts: an OrderedDict with its `_metadata`
attribute (BUILD), every storage type a checkpoint may hold, 0-d and empty tensors, storage
offsets, tensors sharing one storage, non-contiguous views (transpose, step, stride 0), pickle
protocol 4 (FRAME, STACK_GLOBAL, MEMOIZE), a state dict wrapped in a training checkpoint, and
nn.Parameter (_rebuild_parameter). legacy.bin is the pre-1.6 non-zip format, which segq refuses.
Deterministic: fixed seed; torch writes fixed zip timestamps.
"""
import collections
import os

import torch
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "io", "torch")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    with torch.no_grad():
        module[1].running_mean.uniform_(-1, 1)
        module[1].running_var.uniform_(0.5, 2)
        module[1].num_batches_tracked.fill_(7)
    state = module.state_dict()  # OrderedDict with _metadata
    assert isinstance(state, collections.OrderedDict) and hasattr(state, "_metadata")

    base = torch.arange(20, dtype=torch.float32) * 0.5 - 3
    x = torch.randn(3, 5)
    variants = collections.OrderedDict(state)
    variants._metadata = state._metadata
    variants["extra.f16"] = torch.randn(2, 3).half()
    variants["extra.bf16"] = torch.randn(2, 3).to(torch.bfloat16)
    variants["extra.f64"] = torch.randn(3).double()
    variants["extra.i32"] = torch.tensor([1, -2, 3], dtype=torch.int32)
    variants["extra.i16"] = torch.tensor([-300, 7], dtype=torch.int16)
    variants["extra.i8"] = torch.tensor([-100, 5], dtype=torch.int8)
    variants["extra.u8"] = torch.tensor([200, 5, 0], dtype=torch.uint8)
    variants["extra.bool"] = torch.tensor([True, False, True])
    variants["extra.transposed"] = x.t()  # strides (1, 5)
    variants["extra.column"] = x[:, 1:2]  # offset 1, strides (5, 1)
    variants["extra.shared"] = base.view(4, 5)
    variants["extra.offset"] = base[3:9].view(2, 3)  # same storage, offset 3
    variants["extra.step"] = base[::4]  # stride 4
    variants["extra.stride0"] = torch.randn(3)[None].expand(2, 3)  # strides (0, 1)
    variants["extra.empty"] = torch.zeros(0, 4)
    variants["extra.scalar"] = torch.tensor(2.5)

    files = {
        "variants": variants,
        "proto4": variants,
        "wrapped": {"epoch": 3, "lr": 0.1, "tags": ["a", "b"], "nothing": None, "big": 2**40,
                    "neg": -5, "state_dict": dict(state)},
        "params": {"w": torch.nn.Parameter(torch.randn(2, 2)),
                   "frozen": torch.nn.Parameter(torch.randn(3), requires_grad=False)},
    }
    expected = {}
    for name, obj in files.items():
        path = os.path.join(OUT, name + ".bin")
        torch.save(obj, path, pickle_protocol=4 if name == "proto4" else 2)
        tensors = obj["state_dict"] if name == "wrapped" else obj
        for key, t in tensors.items():
            expected[f"{name}/{key}"] = t.detach().contiguous().clone()
    save_file(expected, os.path.join(OUT, "expected.safetensors"))
    torch.save({"w": torch.ones(2)}, os.path.join(OUT, "legacy.bin"),
               _use_new_zipfile_serialization=False)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
