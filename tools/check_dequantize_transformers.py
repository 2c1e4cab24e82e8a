#!/usr/bin/env python3
"""Acceptance check (issue 4, point 5): a `segq quantize` checkpoint turned back into a plain
Hugging Face checkpoint by tools/dequantize.py loads in transformers, and transformers' logits on it
equal the committed fixture tests/fixtures/quant/tiny_int4_logits.safetensors bit for bit (the
logits of the tiny model on optimum-quanto's qint4 weights, which segq's int4 reproduces: the C++
test QuantizedModel.Int4LogitsMatchTransformersOnQuantosWeights compares segq's int4 logits with the
same fixture). Needs torch + transformers (tools/requirements.txt), so it is not part of `make test`.

    python tools/check_dequantize_transformers.py path/to/segq

Exit status 0 when the logits are equal; prints the largest difference either way.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import SegformerForSemanticSegmentation

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dequantize  # noqa: E402
from make_fixtures import hash_input  # noqa: E402

ROOT = os.path.dirname(HERE)
TINY = os.path.join(ROOT, "tests", "fixtures", "models", "tiny")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "quant", "tiny_int4_logits.safetensors")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    segq = sys.argv[1]
    torch.use_deterministic_algorithms(True)
    with tempfile.TemporaryDirectory() as tmp:
        qdir = os.path.join(tmp, "int4")
        plain = os.path.join(tmp, "plain")
        subprocess.run([segq, "quantize", "--model", TINY, "--method", "int4", "--out", qdir],
                       check=True, capture_output=True)
        dequantize.dequantize_checkpoint(qdir, plain)
        model = SegformerForSemanticSegmentation.from_pretrained(plain, dtype=torch.float32).eval()
        with torch.no_grad():
            x = torch.from_numpy(hash_input(1, 64, 64, 2))
            logits = model(pixel_values=x).logits.float().numpy()
    expected = load_file(FIXTURE)["logits_1x64x64"]
    if logits.shape != expected.shape:
        sys.exit(f"shape {logits.shape} != fixture {expected.shape}")
    diff = float(np.max(np.abs(logits - expected)))
    equal = np.array_equal(logits, expected)
    print(f"transformers on dequantize.py(segq int4): max |diff| vs quanto-int4 fixture = {diff:g}, "
          f"bit-identical: {equal}")
    sys.exit(0 if equal else 1)


if __name__ == "__main__":
    main()
