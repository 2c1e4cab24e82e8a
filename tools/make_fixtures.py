#!/usr/bin/env python3
"""Model parity fixtures: SegFormer models with seeded random weights and transformers' logits.

Writes tests/fixtures/models/<name>/ (save_pretrained output, fp16 safetensors) and
tests/fixtures/models/<name>/expected.safetensors with the logits segq must reproduce.

Versions are pinned in tools/requirements.txt (torch 2.7.1, transformers 4.57.1); run through
`make fixtures`, which creates .venv-tools. Deterministic: same seeds, same files.

Inputs are not stored: both sides generate them from an integer hash (see `hash_input`, mirrored
in tests/model/fixture_input.h), so the values are bit-identical without shipping megabytes.
Expected outputs per input size HxW and batch B:
  logits_BxHxW        F32 [B, L, h, w]  full logits (small inputs)
  logits_strided_BxHxW  F32 [B, L, ceil(h/s), ceil(w/s)] logits[:, :, ::s, ::s] (large inputs;
                      the stride s is in the metadata key "stride_BxHxW")
  argmax_BxHxW        I32 [B, h, w]     argmax over labels (first maximum) of the full logits
  gap_BxHxW           F32 [B, h, w]     top-1 minus top-2 logit (for the near-tie exemption)
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from safetensors.numpy import save_file
from transformers import SegformerConfig, SegformerForSemanticSegmentation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "models")

ADE_CLASSES_FILE = os.path.join(ROOT, "tools", "ade20k_classes.txt")


def ade_id2label():
    with open(ADE_CLASSES_FILE) as f:
        names = [line.strip() for line in f if line.strip()]
    assert len(names) == 150, len(names)
    return {i: n for i, n in enumerate(names)}


def hash_input(batch, height, width, seed):
    """x[b,c,h,w] = (k - 1000) / 400 with k = mix(idx) % 2001, idx the flat NCHW index."""
    idx = np.arange(batch * 3 * height * width, dtype=np.uint64)
    u = (idx + np.uint64(seed) * np.uint64(1000003)) & np.uint64(0xFFFFFFFF)
    u = (u * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    u ^= u >> np.uint64(15)
    u = (u * np.uint64(2246822519)) & np.uint64(0xFFFFFFFF)
    u ^= u >> np.uint64(13)
    k = (u % np.uint64(2001)).astype(np.int64) - 1000
    x = k.astype(np.float32) / np.float32(400.0)
    return x.reshape(batch, 3, height, width)


def perturb(model, seed):
    """Move norms and BatchNorm statistics away from their init so the logits have structure."""
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(1.0 + 0.2 * torch.randn(module.weight.shape, generator=g))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=g))
            elif isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                module.running_var.copy_(0.5 + torch.rand(n, generator=g))
                module.weight.copy_(1.0 + 0.2 * torch.randn(n, generator=g))
                module.bias.copy_(0.1 * torch.randn(n, generator=g))
                module.num_batches_tracked.fill_(1234)
        # Larger weights than the 0.02 init so attention is not uniform and activations vary.
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.mul_(4.0)


CONFIGS = {
    # Every sr ratio, several heads, depth 2, 11 labels: cheap enough for every test and ASan.
    "tiny": dict(
        hidden_sizes=[16, 32, 48, 64], depths=[2, 2, 2, 2], num_attention_heads=[1, 2, 3, 4],
        sr_ratios=[8, 4, 2, 1], decoder_hidden_size=32, num_labels=11),
    # The real b0 architecture with the 150 ADE labels.
    "b0": dict(
        hidden_sizes=[32, 64, 160, 256], depths=[2, 2, 2, 2], num_attention_heads=[1, 2, 5, 8],
        sr_ratios=[8, 4, 2, 1], decoder_hidden_size=256, num_labels=150, ade=True),
    # b2's depths with narrow widths.
    "b2narrow": dict(
        hidden_sizes=[16, 32, 80, 128], depths=[3, 4, 6, 3], num_attention_heads=[1, 2, 5, 8],
        sr_ratios=[8, 4, 2, 1], decoder_hidden_size=64, num_labels=19),
}

# (batch, height, width, input seed). Full logits are stored when small, a strided subset otherwise.
INPUTS = [(1, 512, 512, 1), (2, 64, 64, 2), (1, 67, 93, 3)]
FULL_LOGITS_MAX = 200_000
STRIDE = 7

SEED = {"tiny": 11, "b0": 12, "b2narrow": 13}


def build(name):
    spec = dict(CONFIGS[name])
    ade = spec.pop("ade", False)
    if ade:
        id2label = ade_id2label()
    else:
        id2label = {i: f"class_{i}" for i in range(spec["num_labels"])}
    spec.pop("num_labels")
    config = SegformerConfig(
        **spec, id2label=id2label, label2id={v: k for k, v in id2label.items()})
    torch.manual_seed(SEED[name])
    model = SegformerForSemanticSegmentation(config).eval()
    perturb(model, SEED[name])
    # Round every float to fp16 so the fp16 files hold exactly the values the logits come from.
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())
    return model


def expected_outputs(model):
    tensors = {}
    meta = {}
    with torch.no_grad():
        for b, h, w, seed in INPUTS:
            key = f"{b}x{h}x{w}"
            x = torch.from_numpy(hash_input(b, h, w, seed))
            logits = model(pixel_values=x).logits.float().numpy()
            top2 = np.sort(logits, axis=1)[:, -2:, :, :]
            tensors[f"argmax_{key}"] = np.argmax(logits, axis=1).astype(np.int32)
            tensors[f"gap_{key}"] = (top2[:, 1] - top2[:, 0]).astype(np.float32)
            if logits.size <= FULL_LOGITS_MAX:
                tensors[f"logits_{key}"] = np.ascontiguousarray(logits)
            else:
                tensors[f"logits_strided_{key}"] = np.ascontiguousarray(
                    logits[:, :, ::STRIDE, ::STRIDE])
                meta[f"stride_{key}"] = str(STRIDE)
            meta[f"seed_{key}"] = str(seed)
    meta["torch"] = torch.__version__
    meta["transformers"] = transformers.__version__
    return tensors, meta


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    torch.use_deterministic_algorithms(True)
    for name in CONFIGS:
        model = build(name)
        out_dir = os.path.join(OUT, name)
        model.half().save_pretrained(out_dir, safe_serialization=True)
        model.float()
        if name == "tiny":
            # The same model as pytorch_model.bin (fp32 storage of the same fp16-rounded values).
            model.save_pretrained(os.path.join(OUT, "tiny-bin"), safe_serialization=False)
        tensors, meta = expected_outputs(model)
        save_file(tensors, os.path.join(out_dir, "expected.safetensors"), metadata=meta)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n_params} parameters -> {out_dir}")
    with open(os.path.join(OUT, "VERSIONS.json"), "w") as f:
        json.dump({"torch": torch.__version__, "transformers": transformers.__version__,
                   "numpy": np.__version__, "python": sys.version.split()[0]}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
