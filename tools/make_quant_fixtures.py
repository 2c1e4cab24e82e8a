#!/usr/bin/env python3
"""Quantization parity fixtures: float8 codecs (PyTorch, cross-checked with ml_dtypes) and
optimum-quanto's dequantized SegFormer weights.

Writes tests/fixtures/quant/:
  fp8.safetensors
    e4m3_decode, e5m2_decode      F32 [256]  every code decoded by torch (NaN codes included)
    sweep                         F32 [N]    float32 inputs: every fp8 value, midpoints (ties) and
                                             their neighbours, every float32 exponent, subnormals,
                                             +-max, beyond-max values, +-inf, seeded random values
    e4m3_encode, e5m2_encode      U8 [N]     torch's cast sweep.to(float8) (no clamp: PyTorch
                                             turns overflow into NaN / inf)
    e4m3_encode_clamped, ...      U8 [N]     clamp(sweep, -max, max).to(float8), as quanto does
  quanto_parity.json
    per model (tiny, b0) and qtype (qint8, qint4, qint2, qfloat8):
      "quanto":  the transformers QuantoConfig path (nn.Linear only, modules_to_not_convert by
                 transformers' default), loaded in fp32
      "all":     optimum.quanto.quantize(model, weights=qtype) + freeze (every nn.Linear and
                 nn.Conv2d: the modules quanto has quantized counterparts for)
    each a map  parameter name -> {"sha256": SHA-256 of the dequantized weight as little-endian
    float32 bytes in PyTorch's shape, "group_size": quanto's group size or null (per channel)}
  tiny_int4_logits.safetensors
    logits_1x64x64  F32 [1, L, 16, 16]  logits of the tiny model whose Linear and Conv2d weights
                    are replaced by their quanto qint4 dequantized values ("all" scope above, i.e.
                    segq's `int4`), for make_fixtures.hash_input(1, 64, 64, seed=2)

Pinned versions: tools/requirements.txt (torch 2.7.1, transformers 4.57.1, optimum-quanto 0.2.7,
ml_dtypes 0.5.3, accelerate for the QuantoConfig path). Deterministic.
"""
import hashlib
import json
import os
import sys

import ml_dtypes
import numpy as np
import torch
import transformers
from optimum import quanto
from optimum.quanto import QModuleMixin
from safetensors.numpy import save_file
from transformers import QuantoConfig, SegformerForSemanticSegmentation

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import hash_input  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "tests", "fixtures", "models")
OUT = os.path.join(ROOT, "tests", "fixtures", "quant")

FP8 = {
    "e4m3": (torch.float8_e4m3fn, ml_dtypes.float8_e4m3fn, 448.0),
    "e5m2": (torch.float8_e5m2, ml_dtypes.float8_e5m2, 57344.0),
}


def torch_decode(tdtype):
    codes = torch.arange(256, dtype=torch.uint8)
    return codes.view(tdtype).float().numpy()


def torch_encode(x, tdtype):
    return torch.from_numpy(x).to(tdtype).view(torch.uint8).numpy()


def sweep_values():
    vals = [0.0, 1.0, 2.0, 0.5]
    # Every fp8 value, every midpoint between neighbours (a tie), and their float32 neighbours.
    for name, (tdtype, _, fmax) in FP8.items():
        dec = torch_decode(tdtype)
        finite = np.sort(np.unique(dec[np.isfinite(dec) & (dec >= 0)]))
        for a, b in zip(finite[:-1], finite[1:]):
            mid = np.float32((np.float64(a) + np.float64(b)) / 2)
            vals += [a, b, mid, np.nextafter(mid, np.float32(np.inf)),
                     np.nextafter(mid, np.float32(0))]
        # Beyond max: the tie with the next (non-existent) value, and far out.
        top = finite[-1]
        step = top - finite[-2]
        over = np.float32(top + step / 2)
        vals += [fmax, np.nextafter(np.float32(fmax), np.float32(np.inf)), over,
                 np.nextafter(over, np.float32(0)), np.nextafter(over, np.float32(np.inf)),
                 top + step, 2 * fmax, 1e6, 3.0e38]
        # Below the smallest subnormal: half of it is a tie to zero.
        tiny = finite[1]
        vals += [tiny / 2, np.nextafter(np.float32(tiny / 2), np.float32(1)),
                 np.nextafter(np.float32(tiny / 2), np.float32(0)), tiny / 4]
    # Every float32 exponent (subnormals included) with mantissas that hit the round bits of
    # both formats.
    mants = [0x000000, 0x000001, 0x07FFFF, 0x080000, 0x080001, 0x0FFFFF, 0x100000, 0x100001,
             0x180000, 0x3FFFFF, 0x400000, 0x7FFFFF]
    for e in range(0, 255):
        for m in mants:
            vals.append(np.array([(e << 23) | m], dtype=np.uint32).view(np.float32)[0])
    vals += [np.inf]
    # Seeded random values over the ranges the formats cover.
    rng = np.random.default_rng(20240607)
    exps = rng.integers(-24, 18, size=3000)
    mant = rng.random(3000) + 1.0
    vals += list((mant * np.exp2(exps.astype(np.float64))).astype(np.float32))
    x = np.array(vals, dtype=np.float32)
    x = np.concatenate([x, -x])
    return x


def fp8_fixture():
    out = {}
    x = sweep_values()
    out["sweep"] = x
    for name, (tdtype, mdtype, fmax) in FP8.items():
        dec = torch_decode(tdtype)
        mdec = np.arange(256, dtype=np.uint8).view(mdtype).astype(np.float32)
        assert np.array_equal(np.isnan(dec), np.isnan(mdec)), name
        assert np.array_equal(dec[~np.isnan(dec)], mdec[~np.isnan(mdec)]), name
        out[f"{name}_decode"] = dec
        out[f"{name}_encode"] = torch_encode(x, tdtype)
        clamped = np.clip(x, -fmax, fmax).astype(np.float32)
        enc = torch_encode(clamped, tdtype)
        menc = clamped.astype(mdtype).view(np.uint8)
        assert np.array_equal(enc, menc), f"torch and ml_dtypes disagree on {name}"
        out[f"{name}_encode_clamped"] = enc
    meta = {"torch": torch.__version__, "ml_dtypes": ml_dtypes.__version__,
            "ml_dtypes_agree": "decode all codes; encode clamped sweep"}
    save_file(out, os.path.join(OUT, "fp8.safetensors"), metadata=meta)
    print(f"fp8: {len(x)} sweep values")


def load_fp32(model_dir, **kwargs):
    return SegformerForSemanticSegmentation.from_pretrained(
        model_dir, dtype=torch.float32, **kwargs).eval()


def digest(model):
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, QModuleMixin) and module.weight_qtype is not None:
            w = module.weight.dequantize().detach().to(torch.float32).contiguous().numpy()
            out[name + ".weight"] = {
                "sha256": hashlib.sha256(w.astype("<f4").tobytes()).hexdigest(),
                "group_size": module.weight_group_size,
            }
    return out


def quantize_all(model_dir, qtype):
    model = load_fp32(model_dir)
    quanto.quantize(model, weights=qtype)
    quanto.freeze(model)
    return model


def parity_fixture():
    result = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                           "optimum-quanto": "0.2.7"}}
    qtypes = {"qint8": ("int8", quanto.qint8), "qint4": ("int4", quanto.qint4),
              "qint2": ("int2", quanto.qint2), "qfloat8": ("float8", quanto.qfloat8)}
    for model_name in ["tiny", "b0"]:
        model_dir = os.path.join(MODELS, model_name)
        per_model = {}
        for qname, (config_name, qtype) in qtypes.items():
            via_config = digest(load_fp32(model_dir,
                                          quantization_config=QuantoConfig(weights=config_name)))
            # The same Linear layers through quanto.quantize give the same tensors.
            linear_only = load_fp32(model_dir)
            names = [n for n, m in linear_only.named_modules() if isinstance(m, torch.nn.Linear)]
            quanto.quantize(linear_only, weights=qtype, include=names)
            quanto.freeze(linear_only)
            assert digest(linear_only) == via_config, (model_name, qname)
            per_model[qname] = {"quanto": via_config, "all": digest(quantize_all(model_dir, qtype))}
            print(f"{model_name} {qname}: {len(via_config)} Linear, "
                  f"{len(per_model[qname]['all'])} Linear+Conv2d")
        result[model_name] = per_model
    with open(os.path.join(OUT, "quanto_parity.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")


def logits_fixture():
    model = quantize_all(os.path.join(MODELS, "tiny"), quanto.qint4)
    plain = load_fp32(os.path.join(MODELS, "tiny"))
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, QModuleMixin) and module.weight_qtype is not None:
                target = plain.get_submodule(name)
                target.weight.copy_(module.weight.dequantize().to(torch.float32))
        x = torch.from_numpy(hash_input(1, 64, 64, 2))
        logits = plain(pixel_values=x).logits.float().numpy()
    save_file({"logits_1x64x64": np.ascontiguousarray(logits)},
              os.path.join(OUT, "tiny_int4_logits.safetensors"),
              metadata={"method": "int4", "input": "hash_input(1, 64, 64, seed=2)",
                        "torch": torch.__version__, "transformers": transformers.__version__})


def main():
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    fp8_fixture()
    parity_fixture()
    logits_fixture()


if __name__ == "__main__":
    main()
