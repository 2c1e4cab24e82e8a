#!/usr/bin/env python3
"""Turn a segq quantized checkpoint back into a plain Hugging Face checkpoint (fp32 safetensors).

    python tools/dequantize.py QUANTIZED_DIR OUT_DIR

Reads QUANTIZED_DIR/model.safetensors (written by `segq quantize`, format in
docs/quantized-checkpoint.md), replaces every quantized weight by its dequantized float32 value
(exactly what segq computes: code * scale, then - shift, in float32, each step rounded), keeps
every other tensor, adds BatchNorm's num_batches_tracked counters (0) that segq does not store,
and writes OUT_DIR/model.safetensors plus copies of config.json and preprocessor_config.json.
`SegformerForSemanticSegmentation.from_pretrained(OUT_DIR)` then loads it.

Needs only numpy (tools/requirements.txt pins it); safetensors is parsed and written directly
(bfloat16 has no numpy dtype).
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

MAP_KEY = "segq.quantization"
DTYPES = {"F32": np.float32, "F16": np.float16, "U8": np.uint8, "I64": np.int64,
          "F64": np.float64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "BOOL": np.bool_}
BITS = {"fp8-e4m3": 8, "fp8-e5m2": 8, "int8": 8, "int4": 4, "int2": 2}


class CheckpointError(Exception):
    pass


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise CheckpointError(f"{path}: truncated (no header length)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise CheckpointError(f"{path}: truncated header")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    buf = memoryview(data)[8 + n:]
    tensors = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        if end > len(buf):
            raise CheckpointError(f"{path}: tensor {name!r} lies outside the file (truncated)")
        raw = np.frombuffer(buf[b:end], dtype=np.uint8)
        shape = tuple(e["shape"])
        if e["dtype"] == "BF16":
            bits = raw.view("<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32).reshape(shape)
            tensors[name] = ("BF16", arr)
        elif e["dtype"] in DTYPES:
            tensors[name] = (e["dtype"], raw.view(np.dtype(DTYPES[e["dtype"]]).newbyteorder("<"))
                             .reshape(shape))
        else:
            raise CheckpointError(f"{path}: tensor {name!r}: unsupported dtype {e['dtype']}")
    return tensors, meta


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, numpy array) in write order; written atomically."""
    names = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, arr in tensors:
        arr = np.asarray(arr)  # (np.ascontiguousarray would turn a 0-d counter into shape [1])
        blob = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def fp8_table(fmt):
    """float32 value of each of the 256 codes (NaN where the format has NaN)."""
    codes = np.arange(256)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    if fmt == "fp8-e4m3":
        e, m = (codes >> 3) & 0xF, codes & 0x7
        val = np.where(e == 0, m / 8.0 * 2.0 ** -6, (1 + m / 8.0) * 2.0 ** (e - 7.0))
        val = np.where((e == 15) & (m == 7), np.nan, val)
    else:
        e, m = (codes >> 2) & 0x1F, codes & 0x3
        val = np.where(e == 0, m / 4.0 * 2.0 ** -14, (1 + m / 4.0) * 2.0 ** (e - 15.0))
        val = np.where(e == 31, np.where(m == 0, np.inf, np.nan), val)
    return (sign * val).astype(np.float32)


def unpack_codes(codes, fmt, cols):
    bits = BITS[fmt]
    if bits == 8:
        return codes[:, :cols]
    per = 8 // bits
    parts = [(codes >> (bits * i)) & ((1 << bits) - 1) for i in range(per)]
    return np.stack(parts, axis=-1).reshape(codes.shape[0], -1)[:, :cols]


def dequantize_entry(name, e, tensors, where):
    def get(field):
        key = e.get(field)
        if key is None:
            raise CheckpointError(f"{where}: entry {name!r}: missing {field!r}")
        if key not in tensors:
            raise CheckpointError(f"{where}: entry {name!r}: tensor {key!r} is missing")
        return tensors[key]

    shape = tuple(e["shape"])
    rows = shape[0]
    cols = int(np.prod(shape)) // rows
    fmt = e["format"]
    if fmt in ("f16", "bf16"):
        return get("codes")[1].astype(np.float32).reshape(shape)
    if fmt not in BITS:
        raise CheckpointError(f"{where}: entry {name!r}: unknown format {fmt!r}")
    dtype, codes = get("codes")
    row_bytes = (cols * BITS[fmt] + 7) // 8
    if dtype != "U8" or codes.shape != (rows, row_bytes):
        raise CheckpointError(f"{where}: entry {name!r}: codes are {dtype} {codes.shape}, "
                              f"expected U8 {(rows, row_bytes)}")
    group = int(e["group_size"])
    groups = -(-cols // group)
    scales = get("scales")[1].astype(np.float32)
    if scales.shape != (rows, groups):
        raise CheckpointError(f"{where}: entry {name!r}: scales {scales.shape}, "
                              f"expected {(rows, groups)}")
    per_col = np.repeat(scales, group, axis=1)[:, :cols]
    c = unpack_codes(codes, fmt, cols)
    if fmt.startswith("fp8"):
        raw = fp8_table(fmt)[c]
    else:
        bias = (1 << (BITS[fmt] - 1)) if e["symmetric"] else 0
        raw = (c.astype(np.int32) - bias).astype(np.float32)
    out = raw * per_col  # float32 * float32, rounded once
    if not e["symmetric"]:
        shifts = get("shifts")[1].astype(np.float32)
        out = out - np.repeat(shifts, group, axis=1)[:, :cols]  # rounded again: no FMA
    return out.astype(np.float32).reshape(shape)


def dequantize_checkpoint(src_dir, out_dir):
    src = os.path.join(src_dir, "model.safetensors")
    tensors, meta = read_safetensors(src)
    if MAP_KEY not in meta:
        raise CheckpointError(f"{src}: no {MAP_KEY!r} in the metadata: not a segq quantized "
                              "checkpoint")
    where = f"{src}: quantization map"
    try:
        qmap = json.loads(meta[MAP_KEY])
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{where} is not valid JSON (truncated?): {err}") from err
    if qmap.get("version") != 1:
        raise CheckpointError(f"{where}: version {qmap.get('version')!r} is not supported")
    entries = qmap.get("tensors")
    if not isinstance(entries, dict):
        raise CheckpointError(f"{where}: missing 'tensors'")
    used = set()
    out = {}
    for name, e in entries.items():
        out[name] = dequantize_entry(name, e, tensors, where)
        used.update(e.get(k) for k in ("codes", "scales", "shifts") if e.get(k))
    for name, (dtype, arr) in tensors.items():
        if name in used:
            continue
        if dtype == "U8":
            raise CheckpointError(f"{where}: tensor {name!r} is not referenced by the map")
        out[name] = arr if dtype == "I64" else arr.astype(np.float32)
    for name in list(out):
        if name.endswith(".running_mean"):
            counter = name[: -len("running_mean")] + "num_batches_tracked"
            out.setdefault(counter, np.zeros((), dtype=np.int64))
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), sorted(out.items()),
                      {"format": "pt", "segq.dequantized_from": qmap.get("method", "")})
    for extra in ("config.json", "preprocessor_config.json"):
        if os.path.exists(os.path.join(src_dir, extra)):
            shutil.copyfile(os.path.join(src_dir, extra), os.path.join(out_dir, extra))
    return qmap.get("method", ""), len(entries)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("quantized_dir")
    ap.add_argument("out_dir")
    args = ap.parse_args()
    try:
        method, n = dequantize_checkpoint(args.quantized_dir, args.out_dir)
    except (CheckpointError, KeyError, ValueError) as err:
        print(f"dequantize: {err}", file=sys.stderr)
        return 1
    print(f"{args.out_dir}/model.safetensors: {n} weights dequantized from {method}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
