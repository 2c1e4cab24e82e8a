"""tools/dequantize.py on checkpoints written by `segq quantize`: the dequantized weights equal
optimum-quanto's (SHA-256 per tensor, tests/fixtures/quant/quanto_parity.json, made by
tools/make_quant_fixtures.py), every other tensor is kept, and broken maps fail clearly.
(That transformers loads the output and reproduces quanto's logits is checked by
tools/make_quant_fixtures.py's logits fixture and by hand; `make test` needs no torch.)"""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.environ.get("SEGQ_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SEGQ = os.environ.get("SEGQ_EXE", os.path.join(ROOT, "build", "segq"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import dequantize  # noqa: E402

TINY = os.path.join(ROOT, "tests", "fixtures", "models", "tiny")
PARITY = json.load(open(os.path.join(ROOT, "tests", "fixtures", "quant", "quanto_parity.json")))


def quantize(tmp_path, method):
    out = tmp_path / method.replace(":", "_")
    subprocess.run([SEGQ, "quantize", "--model", TINY, "--method", method, "--out", str(out)],
                   check=True, capture_output=True)
    return out


def sha(arr):
    return hashlib.sha256(np.ascontiguousarray(arr, dtype="<f4").tobytes()).hexdigest()


@pytest.mark.parametrize("method,qtype,scope", [
    ("int8", "qint8", "all"), ("int4", "qint4", "all"), ("int2", "qint2", "all"),
    ("fp8", "qfloat8", "all"), ("quanto:int4", "qint4", "quanto"),
    ("quanto:fp8", "qfloat8", "quanto")])
def test_dequantized_weights_equal_quanto(tmp_path, method, qtype, scope):
    qdir = quantize(tmp_path, method)
    out = tmp_path / "plain"
    dequantize.dequantize_checkpoint(str(qdir), str(out))
    tensors, meta = dequantize.read_safetensors(str(out / "model.safetensors"))
    original, _ = dequantize.read_safetensors(os.path.join(TINY, "model.safetensors"))
    expected = PARITY["tiny"][qtype][scope]
    assert set(tensors) == set(original)
    assert meta["segq.dequantized_from"] == method
    for name, (dtype, arr) in tensors.items():
        if name in expected:
            assert dtype == "F32"
            assert sha(arr) == expected[name]["sha256"], name
        elif dtype == "I64":
            assert arr.shape == ()
        else:
            assert dtype == "F32"
            np.testing.assert_array_equal(arr, original[name][1].astype(np.float32), err_msg=name)
    assert (out / "config.json").read_bytes() == open(os.path.join(TINY, "config.json"), "rb").read()


def test_bf16_baseline(tmp_path):
    qdir = quantize(tmp_path, "bf16")
    out = tmp_path / "plain"
    dequantize.dequantize_checkpoint(str(qdir), str(out))
    tensors, _ = dequantize.read_safetensors(str(out / "model.safetensors"))
    original, _ = dequantize.read_safetensors(os.path.join(TINY, "model.safetensors"))
    w = original["decode_head.linear_fuse.weight"][1].astype(np.float32)
    bits = w.view(np.uint32)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32).view(np.float32)
    np.testing.assert_array_equal(tensors["decode_head.linear_fuse.weight"][1], rounded)


def test_hqq_checkpoint_dequantizes_close_to_the_weights(tmp_path):
    qdir = quantize(tmp_path, "int4-g32-hqq-s16")
    out = tmp_path / "plain"
    dequantize.dequantize_checkpoint(str(qdir), str(out))
    tensors, _ = dequantize.read_safetensors(str(out / "model.safetensors"))
    original, _ = dequantize.read_safetensors(os.path.join(TINY, "model.safetensors"))
    w = original["segformer.encoder.block.1.0.mlp.dense1.weight"][1].astype(np.float32)
    d = tensors["segformer.encoder.block.1.0.mlp.dense1.weight"][1]
    rel = np.linalg.norm(d - w) / np.linalg.norm(w)
    assert 0 < rel < 0.2


def test_broken_maps_fail_clearly(tmp_path):
    qdir = quantize(tmp_path, "int4")
    path = qdir / "model.safetensors"
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    qmap = json.loads(header["__metadata__"]["segq.quantization"])

    def rewrite(new_map_text):
        header["__metadata__"]["segq.quantization"] = new_map_text
        text = json.dumps(header).encode()
        text += b" " * ((8 - (8 + len(text)) % 8) % 8)
        path.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + n:])

    rewrite(json.dumps(qmap)[:200])  # truncated
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "dequantize.py"),
                             str(qdir), str(tmp_path / "x")], capture_output=True, text=True)
    assert result.returncode == 1
    assert "not valid JSON" in result.stderr

    name = "segformer.encoder.block.0.0.mlp.dense1.weight"
    del qmap["tensors"][name]
    rewrite(json.dumps(qmap))
    with pytest.raises(dequantize.CheckpointError, match="not referenced"):
        dequantize.dequantize_checkpoint(str(qdir), str(tmp_path / "y"))
