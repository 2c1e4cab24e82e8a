#!/usr/bin/env python3
"""Preprocessing parity fixtures: what Pillow and transformers' SegformerImageProcessor compute.

Writes tests/fixtures/data/:
  images/*.png, *.jpg       tiny source images (committed, so C++ decodes the very same bytes)
  expected.json             per case: the config, SHA-256 digests of the arrays segq must
                            reproduce bit for bit, their shapes, and a few sampled values

Versions are pinned in tools/requirements.txt (transformers 4.57.1, pillow 11.3.0, numpy 2.2.6);
run with the tools venv (`make fixtures`). SegformerImageProcessor is instantiated directly (the
PIL backend, not the Fast/torchvision one).

Kinds of checks (the "kind" field of each case):
  decode        PIL's Image.open(f).convert("RGB") (or np.array(Image.open(f)) for label maps):
                digest of the uint8 [H, W, C] array.
  pixels        SegformerImageProcessor(**config)(rgb).pixel_values[0]: digest of the float32
                [3, h, w] array (C order, little endian).
  seed_labels   the same processor given the label map: labels[0] (reduced, NEAREST-resized),
                as uint8 [h, w].
  pil_resize    Image.resize((w, h), filter) of an RGB or L image: digest of uint8 [h, w, C].

Sources ("source" field): {"file": "images/x.png"} (committed here), {"shared": "<path under
../shared/data>"} (the real ADE sample; tests skip when absent) or {"formula": {h, w, channels,
seed}} (an image both sides compute from integers, see `formula_image`, mirrored in
tests/data/test_preprocess.cpp), used for large inputs that need no file.
"""
import hashlib
import io
import json
import os
import sys

import numpy as np
import PIL
import transformers
from PIL import Image, features
from transformers import SegformerImageProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "data")
SHARED = os.path.join(ROOT, "..", "shared", "data")
ADE = "ade20k-sample/ADEChallengeData2016"


def formula_image(h, w, channels, seed):
    """uint8 [h, w, channels]: a smooth ramp with wrap-around edges plus integer-hash noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    planes = []
    for c in range(channels):
        u = (y * np.uint64(1315423911) + x * np.uint64(2654435761)
             + np.uint64(c * 97 + seed * 7919)) & mask
        u ^= u >> np.uint64(13)
        u = (u * np.uint64(0x5BD1E995)) & mask
        u ^= u >> np.uint64(15)
        smooth = (x * np.uint64(3) + y * np.uint64(c + 2) + (x * y) // np.uint64(64)) & np.uint64(255)
        planes.append(((smooth + (u & np.uint64(15))) & np.uint64(255)).astype(np.uint8))
    return np.stack(planes, axis=-1)


def formula_labels(h, w, seed, max_value):
    """uint8 [h, w] label map of blocks with values 0..max_value (0 included)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    u = ((y // np.uint64(5)) * np.uint64(40503) + (x // np.uint64(7)) * np.uint64(2654435761)
         + np.uint64(seed)) & mask
    u ^= u >> np.uint64(16)
    u = (u * np.uint64(0x45D9F3B)) & mask
    u ^= u >> np.uint64(16)
    return (u % np.uint64(max_value + 1)).astype(np.uint8)


def sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def samples(array, count=24):
    """A few (index..., value) entries at fixed pseudo-random positions, for diagnostics."""
    flat = array.reshape(-1)
    rng = np.random.default_rng(1234)
    picks = sorted(set(rng.integers(0, flat.size, size=count).tolist()) | {0, flat.size - 1})
    out = []
    for p in picks:
        idx = list(np.unravel_index(p, array.shape))
        v = flat[p]
        out.append([int(i) for i in idx] + [float(v) if array.dtype.kind == "f" else int(v)])
    return out


def save(name, image, **kwargs):
    path = os.path.join(OUT, "images", name)
    buf = io.BytesIO()
    kwargs.setdefault("format", "PNG" if name.endswith(".png") else "JPEG")
    image.save(buf, **kwargs)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return {"file": "images/" + name}


def load_source(source):
    if "file" in source:
        return Image.open(os.path.join(OUT, source["file"]))
    if "shared" in source:
        return Image.open(os.path.join(SHARED, source["shared"]))
    f = source["formula"]
    arr = formula_image(f["h"], f["w"], f["channels"], f["seed"])
    return Image.fromarray(arr[:, :, 0] if f["channels"] == 1 else arr)


def make_sources():
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    src = {}
    # Upscaling source for the pixel cases (RGB PNG, lossless, odd size).
    src["rgb_97x131"] = save("rgb_97x131.png", Image.fromarray(formula_image(97, 131, 3, 1)))
    # JPEG variants: chroma subsampling 4:4:4 / 4:2:2 / 4:2:0 at odd sizes, progressive,
    # grayscale, Adobe CMYK.
    rgb = Image.fromarray(formula_image(45, 37, 3, 2))
    src["jpeg_444"] = save("jpeg_444_45x37.jpg", rgb, format="JPEG", quality=85, subsampling=0)
    src["jpeg_422"] = save("jpeg_422_45x37.jpg", rgb, format="JPEG", quality=85, subsampling=1)
    src["jpeg_420"] = save("jpeg_420_45x37.jpg", rgb, format="JPEG", quality=85, subsampling=2)
    src["jpeg_progressive"] = save("jpeg_progressive_45x37.jpg", rgb, format="JPEG", quality=85,
                                   progressive=True)
    gray = Image.fromarray(formula_image(61, 45, 1, 3)[:, :, 0])
    src["jpeg_gray"] = save("jpeg_gray_61x45.jpg", gray, format="JPEG", quality=90)
    src["jpeg_cmyk"] = save("jpeg_cmyk_30x40.jpg", Image.frombytes("CMYK", (40, 30),
                                                                   formula_image(30, 40, 4, 4)
                                                                   .tobytes()),
                            format="JPEG", quality=90)
    # PNG colour types.
    small = formula_image(21, 33, 4, 5)
    src["png_gray"] = save("png_gray_21x33.png", Image.fromarray(small[:, :, 0]), format="PNG")
    src["png_rgba"] = save("png_rgba_21x33.png", Image.fromarray(small), format="PNG")
    src["png_la"] = save("png_la_21x33.png", Image.fromarray(small[:, :, :2]),
                         format="PNG")
    pal = Image.fromarray(small[:, :, :3]).quantize(colors=13)
    src["png_palette"] = save("png_palette_21x33.png", pal, format="PNG")
    src["png_bw"] = save("png_bw_21x33.png", Image.fromarray(small[:, :, 0] > 127), format="PNG")
    src["png_interlaced"] = save("png_interlaced_21x33.png", Image.fromarray(small[:, :, :3]),
                                 format="PNG", interlace=1)
    # 16-bit RGB: written through the raw encoder (PIL has no 16-bit RGB mode to save from).
    src["png_rgb16"] = {"file": "images/png_rgb16_21x33.png"}
    write_png_rgb16(os.path.join(OUT, src["png_rgb16"]["file"]), formula_image(21, 33, 6, 6))
    # Label maps: 8-bit gray values 0..150, and a palette label map (indices are the labels).
    labels = formula_labels(37, 53, 7, 150)
    src["label_gray"] = save("label_37x53.png", Image.fromarray(labels), format="PNG")
    pal_labels = Image.fromarray(formula_labels(37, 53, 8, 20)).convert("P")
    src["label_palette"] = save("label_palette_37x53.png", pal_labels, format="PNG")
    return src


def write_png_rgb16(path, six_planes):
    """A 16-bit RGB PNG whose samples are (hi, lo) bytes from the six planes."""
    import struct
    import zlib

    h, w, _ = six_planes.shape
    raw = b"".join(b"\x00" + six_planes[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def processor(config):
    return SegformerImageProcessor(**config)


def pixels_case(name, source, config):
    image = load_source(source).convert("RGB")
    out = processor(config)(images=image, return_tensors="np")["pixel_values"][0]
    assert out.dtype == np.float32, out.dtype
    return {"name": name, "kind": "pixels", "source": source, "config": config,
            "shape": list(out.shape), "sha256": sha256(out), "samples": samples(out)}


def seed_labels_case(name, image_source, label_source, config):
    image = load_source(image_source).convert("RGB")
    label = load_source(label_source)
    out = processor(config)(images=image, segmentation_maps=label, return_tensors="np")["labels"][0]
    assert out.min() >= 0 and out.max() <= 255
    out = out.astype(np.uint8)
    return {"name": name, "kind": "seed_labels", "source": image_source,
            "label_source": label_source, "config": config, "shape": list(out.shape),
            "sha256": sha256(out), "samples": samples(out)}


def decode_case(name, source, as_label=False):
    image = load_source(source)
    arr = np.array(image) if as_label else np.array(image.convert("RGB"))
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return {"name": name, "kind": "decode_label" if as_label else "decode", "source": source,
            "pil_mode": image.mode, "shape": list(arr.shape), "sha256": sha256(arr),
            "samples": samples(arr)}


def resize_case(name, source, size_hw, resample, mode="RGB"):
    image = load_source(source).convert(mode)
    out = np.array(image.resize((size_hw[1], size_hw[0]), resample=resample))
    if out.ndim == 2:
        out = out[:, :, None]
    return {"name": name, "kind": "pil_resize", "source": source, "mode": mode,
            "resample": int(resample), "shape": list(out.shape), "sha256": sha256(out),
            "samples": samples(out)}


def main():
    if not os.path.isdir(os.path.join(SHARED, ADE)):
        sys.exit(f"needs the ADE20K sample at {os.path.join(SHARED, ADE)} (../shared/data)")
    src = make_sources()
    ade_images = [{"shared": f"{ADE}/images/validation/ADE_val_0000000{i}.jpg"} for i in (1, 2, 3)]
    ade_labels = [{"shared": f"{ADE}/annotations/validation/ADE_val_0000000{i}.png"}
                  for i in (1, 2, 3)]
    ade_config = {"do_reduce_labels": True}  # the ADE checkpoints: 512x512, BILINEAR, ImageNet
    odd_config = {"size": {"height": 384, "width": 288}, "do_reduce_labels": True}
    cases = []
    for i, (img, lab) in enumerate(zip(ade_images, ade_labels), start=1):
        cases.append(decode_case(f"ade{i}_decode", img))
        cases.append(decode_case(f"ade{i}_label_decode", lab, as_label=True))
        cases.append(pixels_case(f"ade{i}_512", img, ade_config))
        cases.append(pixels_case(f"ade{i}_384x288", img, odd_config))
        cases.append(seed_labels_case(f"ade{i}_seed_labels_512", img, lab, ade_config))
        cases.append(seed_labels_case(f"ade{i}_seed_labels_384x288", img, lab, odd_config))
    for key in ("jpeg_444", "jpeg_422", "jpeg_420", "jpeg_progressive", "jpeg_gray", "jpeg_cmyk",
                "png_gray", "png_rgba", "png_la", "png_palette", "png_bw", "png_interlaced",
                "png_rgb16", "rgb_97x131"):
        cases.append(decode_case(f"{key}_decode", src[key]))
    cases.append(decode_case("label_gray_decode", src["label_gray"], as_label=True))
    cases.append(decode_case("label_palette_decode", src["label_palette"], as_label=True))
    big = {"formula": {"h": 700, "w": 1024, "channels": 3, "seed": 11}}
    tall = {"formula": {"h": 300, "w": 50, "channels": 3, "seed": 12}}
    cases += [
        pixels_case("rgb_97x131_to_512", src["rgb_97x131"], {}),
        pixels_case("formula_700x1024_to_67x93", big, {"size": {"height": 67, "width": 93}}),
        pixels_case("formula_300x50_to_64x200", tall, {"size": {"height": 64, "width": 200}}),
        pixels_case("gray_jpeg_to_512", src["jpeg_gray"], {}),
        pixels_case("cmyk_jpeg_to_33x17", src["jpeg_cmyk"], {"size": {"height": 33, "width": 17}}),
        pixels_case("rgb_97x131_bicubic_to_200x61", src["rgb_97x131"],
                    {"size": {"height": 200, "width": 61}, "resample": 3}),
        pixels_case("rgb_97x131_nearest_to_45x300", src["rgb_97x131"],
                    {"size": {"height": 45, "width": 300}, "resample": 0}),
        pixels_case("rgb_97x131_custom_norm", src["rgb_97x131"],
                    {"size": {"height": 97, "width": 131}, "rescale_factor": 0.00390625,
                     "image_mean": [0.5, 0.25, 0.125], "image_std": [0.3, 0.7, 1.1]}),
        pixels_case("rgb_97x131_no_resize_no_normalize", src["rgb_97x131"],
                    {"do_resize": False, "do_normalize": False}),
        pixels_case("formula_700x1024_width_only", big, {"size": {"height": 700, "width": 333}}),
        seed_labels_case("label_gray_seed_512", {"formula": {"h": 37, "w": 53, "channels": 3,
                                                             "seed": 9}},
                         src["label_gray"], {"do_reduce_labels": True}),
        seed_labels_case("label_gray_seed_20x30_no_reduce",
                         {"formula": {"h": 37, "w": 53, "channels": 3, "seed": 9}},
                         src["label_gray"], {"size": {"height": 20, "width": 30}}),
    ]
    for filt, fname in ((Image.Resampling.BILINEAR, "bilinear"), (Image.Resampling.BICUBIC, "bicubic"),
                        (Image.Resampling.LANCZOS, "lanczos"), (Image.Resampling.BOX, "box"),
                        (Image.Resampling.HAMMING, "hamming"), (Image.Resampling.NEAREST, "nearest")):
        cases.append(resize_case(f"resize_{fname}_rgb_down", big, (131, 77), filt))
        cases.append(resize_case(f"resize_{fname}_l_up",
                                 {"formula": {"h": 97, "w": 131, "channels": 1, "seed": 13}},
                                 (250, 333), filt, mode="L"))
    doc = {
        "versions": {
            "transformers": transformers.__version__,
            "pillow": PIL.__version__,
            "numpy": np.__version__,
            "pillow_libjpeg_turbo": features.version("libjpeg_turbo"),
            "python": sys.version.split()[0],
        },
        "cases": cases,
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.relpath(OUT, ROOT)}/expected.json")


if __name__ == "__main__":
    main()
