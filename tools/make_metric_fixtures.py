#!/usr/bin/env python3
"""Metric and upsample+argmax parity fixtures for segq's eval/ and kernels/upsample_argmax.

Writes tests/fixtures/metrics/metric_cases.json and tests/fixtures/metrics/upsample_argmax.json.
Pinned versions: tools/requirements.txt (torchmetrics 1.8.2, torch 2.7.1, numpy 2.2.6). Run via
`make fixtures` or `.venv-tools/bin/python tools/make_metric_fixtures.py`. Deterministic.

Inputs are not stored: predictions, labels and logits come from SplitMix64 streams that
tests/eval/fixture_rng.h mirrors, so only seeds, parameters and expected values are committed.

Metric oracles per case (see the "oracles" note written into the JSON):
  * counts: torchmetrics MulticlassConfusionMatrix(num_classes=N, ignore_index=255) over the
    pixels whose prediction is in [0, N). torchmetrics has no notion of an out-of-range
    prediction (it would fold it into a wrong cell of target * N + pred), so those pixels are
    counted separately, per label, with numpy (`pred_out_of_range`).
  * evaluate semantics (the spec's formulas in numpy, float64): per-class histograms with
    np.histogram(bins=N, range=(0, N - 1)) exactly as evaluate's mean_iou counts them, IoU =
    I / (P + L - I), accuracy = I / L, np.nanmean, overall = sum(I) / sum(L); and the ADE devkit
    variant np.mean(np.nan_to_num(.)). C++ must equal these to 1e-12 (in fact bit for bit).
  * torchmetrics MulticlassJaccardIndex(average="macro") on the in-range pixels. Its macro
    average gives weight 0 to classes with no prediction and no label, like evaluate's nanmean,
    so it agrees with evaluate semantics whenever no prediction is out of range; but it reduces
    the confusion matrix in float32 (`confmat.float()`), so it is recorded next to the float64
    value that evaluate semantics give on the same in-range pixels.
  * torchmetrics MulticlassAccuracy(average="macro") on the in-range pixels, float32: a class that
    is predicted but absent from the labels counts as accuracy 0 with weight 1, where evaluate's
    nanmean excludes it (NaN). Recorded to document the difference.
"""
import hashlib
import json
import os

import numpy as np
import torch
import torchmetrics
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassJaccardIndex,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "metrics")
IGNORE = 255
MASK64 = (1 << 64) - 1


class SplitMix64:
    """Mirrored in tests/eval/fixture_rng.h."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n


def generate_case(p):
    """Images of the case: list of (pred, label) uint8 arrays [h, w]. Mirrored in C++."""
    rng = SplitMix64(p["seed"])
    n = p["num_labels"]
    label_classes = p["label_classes"]
    pred_classes = p["pred_classes"]
    images = []
    for _ in range(p["num_images"]):
        h = 1 + rng.below(p["max_side"])
        w = 1 + rng.below(p["max_side"])
        pred = np.zeros(h * w, dtype=np.uint8)
        label = np.zeros(h * w, dtype=np.uint8)
        for i in range(h * w):
            if rng.below(1000) < p["ignore_per_mille"]:
                label[i] = IGNORE
            else:
                label[i] = label_classes[rng.below(len(label_classes))]
            r = rng.below(1000)
            if r < p["out_of_range_per_mille"]:
                pred[i] = n + rng.below(256 - n)
            elif r < p["out_of_range_per_mille"] + p["correct_per_mille"] and label[i] != IGNORE:
                pred[i] = label[i]
            else:
                pred[i] = pred_classes[rng.below(len(pred_classes))]
        images.append((pred.reshape(h, w), label.reshape(h, w)))
    return images


def evaluate_semantics(images, n):
    """The counting of evaluate's mean_iou (intersect_and_union), float64 totals."""
    ti = np.zeros(n, dtype=np.float64)
    tp = np.zeros(n, dtype=np.float64)
    tl = np.zeros(n, dtype=np.float64)
    for pred, label in images:
        keep = label != IGNORE
        pr = pred[keep].astype(np.int64)
        lb = label[keep].astype(np.int64)
        inter = pr[pr == lb]
        ti += np.histogram(inter, bins=n, range=(0, n - 1))[0]
        tp += np.histogram(pr, bins=n, range=(0, n - 1))[0]
        tl += np.histogram(lb, bins=n, range=(0, n - 1))[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = ti / (tp + tl - ti)
        acc = ti / tl
        overall = ti.sum() / tl.sum()
        out = {
            "mean_iou": float(np.nanmean(iou)) if not np.all(np.isnan(iou)) else None,
            "mean_accuracy": float(np.nanmean(acc)) if not np.all(np.isnan(acc)) else None,
            "overall_accuracy": None if np.isnan(overall) else float(overall),
            "per_class_iou": [None if np.isnan(v) else float(v) for v in iou],
            "per_class_accuracy": [None if np.isnan(v) else float(v) for v in acc],
            "devkit_mean_iou": float(np.mean(np.nan_to_num(iou))),
            "devkit_mean_accuracy": float(np.mean(np.nan_to_num(acc))),
        }
    return out


def torchmetrics_oracles(images, n):
    preds, targets = [], []
    oor = np.zeros(n, dtype=np.int64)
    for pred, label in images:
        pr = pred.reshape(-1).astype(np.int64)
        lb = label.reshape(-1).astype(np.int64)
        in_range = pr < n
        bad = (~in_range) & (lb != IGNORE)
        oor += np.bincount(lb[bad], minlength=n)[:n]
        preds.append(pr[in_range])
        targets.append(lb[in_range])
    pred_t = torch.from_numpy(np.concatenate(preds))
    target_t = torch.from_numpy(np.concatenate(targets))
    cm = MulticlassConfusionMatrix(num_classes=n, ignore_index=IGNORE)
    jac = MulticlassJaccardIndex(num_classes=n, average="macro", ignore_index=IGNORE)
    acc = MulticlassAccuracy(num_classes=n, average="macro", ignore_index=IGNORE)
    for m in (cm, jac, acc):
        m.update(pred_t, target_t)
    matrix = cm.compute().numpy()
    nonzero = [[int(r), int(c), int(matrix[r, c])] for r, c in zip(*np.nonzero(matrix))]
    jaccard = float(jac.compute().item())
    accuracy = float(acc.compute().item())
    # The same in-range pixels through evaluate semantics, float64.
    in_range_images = [(pred_t.numpy().astype(np.uint8), target_t.numpy().astype(np.uint8))]
    ev = evaluate_semantics(in_range_images, n)
    return {
        "confusion_nonzero": nonzero,
        "pred_out_of_range": [int(v) for v in oor],
        "torchmetrics_jaccard_macro_in_range": None if np.isnan(jaccard) else jaccard,
        "torchmetrics_accuracy_macro_in_range": None if np.isnan(accuracy) else accuracy,
        "evaluate_mean_iou_in_range": ev["mean_iou"],
        "evaluate_mean_accuracy_in_range": ev["mean_accuracy"],
    }


METRIC_CASES = [
    # two classes, ignored pixels, no out-of-range predictions
    dict(name="binary", seed=1, num_labels=2, num_images=3, max_side=20, ignore_per_mille=100,
         out_of_range_per_mille=0, correct_per_mille=600, label_classes=[0, 1], pred_classes=[0, 1]),
    # absent classes (8, 9 never labelled; 9 never predicted), out-of-range predictions
    dict(name="absent_and_out_of_range", seed=2, num_labels=10, num_images=5, max_side=40,
         ignore_per_mille=200, out_of_range_per_mille=50, correct_per_mille=500,
         label_classes=[0, 1, 2, 3, 4, 5, 6, 7], pred_classes=[0, 1, 2, 3, 4, 5, 6, 7, 8]),
    # ADE-sized label space: many classes absent from both sides (pairwise sum over 150 values)
    dict(name="ade150", seed=3, num_labels=150, num_images=4, max_side=48, ignore_per_mille=150,
         out_of_range_per_mille=20, correct_per_mille=450,
         label_classes=list(range(0, 150, 3)), pred_classes=list(range(0, 150, 2))),
    # every class present somewhere, no ignore, mostly correct
    dict(name="ade150_dense", seed=4, num_labels=150, num_images=3, max_side=64,
         ignore_per_mille=0, out_of_range_per_mille=0, correct_per_mille=800,
         label_classes=list(range(150)), pred_classes=list(range(150))),
    # tiny images (1x1 up to 3x3), out-of-range only, nothing correct by construction
    dict(name="tiny_images", seed=5, num_labels=20, num_images=12, max_side=3,
         ignore_per_mille=300, out_of_range_per_mille=300, correct_per_mille=0,
         label_classes=[1, 5, 7], pred_classes=[2, 5, 19]),
    # every pixel ignored: nothing scored, every metric undefined
    dict(name="all_ignored", seed=6, num_labels=5, num_images=2, max_side=6,
         ignore_per_mille=1000, out_of_range_per_mille=100, correct_per_mille=0,
         label_classes=[0], pred_classes=[0, 1, 2, 3, 4]),
    # 129 classes: exercises the split of numpy's pairwise sum just above its block of 128
    dict(name="n129", seed=7, num_labels=129, num_images=3, max_side=50, ignore_per_mille=50,
         out_of_range_per_mille=10, correct_per_mille=300,
         label_classes=list(range(129)), pred_classes=list(range(129))),
]

# evaluate's docstring example (num_labels 10, ignore 255), arrays as given there.
DOCSTRING_CASE = {
    "name": "evaluate_docstring",
    "num_labels": 10,
    "images": [
        {"pred": [[1, 2], [3, 4], [5, 255]], "label": [[0, 3], [5, 4], [6, 255]]},
        {"pred": [[2, 7], [9, 2], [3, 6]], "label": [[1, 7], [9, 2], [3, 6]]},
        {"pred": [[2, 2, 3], [8, 2, 4], [3, 255, 2]], "label": [[1, 2, 2], [8, 2, 1], [3, 255, 1]]},
    ],
}


def metric_fixture():
    cases = []
    for p in METRIC_CASES:
        images = generate_case(p)
        n = p["num_labels"]
        entry = dict(p)
        entry["num_pixels"] = int(sum(int((lb != IGNORE).sum()) for _, lb in images))
        entry["image_sizes"] = [list(lb.shape) for _, lb in images]
        entry["evaluate"] = evaluate_semantics(images, n)
        entry.update(torchmetrics_oracles(images, n))
        cases.append(entry)
    doc = dict(DOCSTRING_CASE)
    images = [(np.array(i["pred"], dtype=np.uint8), np.array(i["label"], dtype=np.uint8))
              for i in DOCSTRING_CASE["images"]]
    doc["evaluate"] = evaluate_semantics(images, 10)
    doc.update(torchmetrics_oracles(images, 10))
    return {
        "versions": {"torchmetrics": torchmetrics.__version__, "torch": torch.__version__,
                     "numpy": np.__version__},
        "oracles": __doc__.split("Metric oracles per case")[1].strip(),
        "cases": cases,
        "docstring_case": doc,
    }


# Every output size has height + width > 128: PyTorch then runs its generic CPU kernel
# (upsample_generic_Nd_kernel_impl), the one transformers' post-processing of [1, L, h, w] logits
# to an image size hits; smaller outputs go to a channels-last kernel with another summation order.
UPSAMPLE_CASES = [
    # name, logits h, w, labels, resize chain, distinct value levels (few -> many ties)
    ("up_5x7x3_to_20x110", 5, 7, 3, [(20, 110)], 2001),
    ("down_h_90x70x4_to_24x107", 90, 70, 4, [(24, 107)], 2001),
    ("same_h_20x40x5_to_20x111", 20, 40, 5, [(20, 111)], 2001),
    ("identity_9x120x9", 9, 120, 9, [(9, 120)], 2001),
    ("chain_3x5x6_to_64x80_to_30x101", 3, 5, 6, [(64, 80), (30, 101)], 2001),
    ("ties_6x5x19_to_25x104", 6, 5, 19, [(25, 104)], 3),
    ("odd_16x16x19_to_21x109", 16, 16, 19, [(21, 109)], 2001),
    ("ade_like_8x11x150_to_19x113", 8, 11, 150, [(19, 113)], 2001),
    ("ties_ade_7x9x150_to_23x106", 7, 9, 150, [(23, 106)], 4),
    ("from_1x2_1x2x12_to_29x100", 1, 2, 12, [(29, 100)], 2001),
    ("to_one_row_6x7x10_to_1x128", 6, 7, 10, [(1, 128)], 2001),
    # b0 logits of a 512x683 ADE image resized to the label size: only a hash of the argmax
    ("hf_b0_128x128x150_to_512x683", 128, 128, 150, [(512, 683)], 2001),
]
# A 1x1 logits grid is left out: PyTorch runs it through another loop in which some lanes round
# x * l0 + x * l1 without FMA, so it differs by an ulp here and there.
HASH_ONLY_PIXELS = 100000  # above this, only sha256(argmax bytes) is stored
MAX_VALUES = 400  # float32 bits of about this many resized values per case, evenly strided


def upsample_logits(seed, h, w, labels, levels):
    """NHWC logits [h, w, L]: (k - levels // 2) / 64 with k = next() % levels. Mirrored in C++."""
    rng = SplitMix64(seed)
    vals = np.array([(rng.below(levels) - levels // 2) / 64.0 for _ in range(h * w * labels)],
                    dtype=np.float32)
    return vals.reshape(h, w, labels)


def upsample_fixture():
    cases = []
    for seed, (name, h, w, labels, chain, levels) in enumerate(UPSAMPLE_CASES, 100):
        logits = upsample_logits(seed, h, w, labels, levels)
        x = torch.from_numpy(logits).permute(2, 0, 1).unsqueeze(0).contiguous()  # NCHW as HF
        for oh, ow in chain:
            assert oh + ow > 128, name
            x = torch.nn.functional.interpolate(x, size=(oh, ow), mode="bilinear",
                                                align_corners=False)
        argmax = x.argmax(dim=1)[0].numpy().astype(np.int64)
        values = x[0].permute(1, 2, 0).contiguous().numpy().reshape(-1)  # back to NHWC
        stride = max(1, values.size // MAX_VALUES) | 1
        entry = {"name": name, "seed": seed, "in_h": h, "in_w": w, "num_labels": labels,
                 "levels": levels, "chain": [list(s) for s in chain]}
        labels_u8 = argmax.astype(np.uint8).tobytes()
        if argmax.size > HASH_ONLY_PIXELS:
            entry["argmax_sha256"] = hashlib.sha256(labels_u8).hexdigest()
        else:
            entry.update({"argmax_hex": labels_u8.hex(), "value_stride": stride,
                          "values_f32_bits": values[::stride].view(np.uint32).tolist()})
        cases.append(entry)
    return {"versions": {"torch": torch.__version__, "numpy": np.__version__},
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(), "cases": cases}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in (("metric_cases.json", metric_fixture()),
                       ("upsample_argmax.json", upsample_fixture())):
        path = os.path.join(OUT, name)
        with open(path, "w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
