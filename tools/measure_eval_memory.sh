#!/usr/bin/env bash
# Peak RSS of `segq eval` over 2000 synthetic 128x128 images vs 20, with the tiny fixture model
# (acceptance: the difference stays within 50 MB, i.e. memory does not grow with the dataset).
#
#   tools/measure_eval_memory.sh [build/segq] [workdir]
#
# Data: `segq synth` when the binary has it (ADE layout, 11 classes so the tiny model's 11 labels
# cover them), else a pure-Python generator writing the same kind of PNG folder pair. The model is
# tests/fixtures/models/tiny with a preprocessor_config.json for 128x128 inputs. Peak RSS is the
# process's VmHWM, which segq eval records in results.json (timings.peak_rss_bytes); /usr/bin/time
# is used too when installed.
set -euo pipefail
cd "$(dirname "$0")/.."
SEGQ=${1:-build/segq}
WORK=${2:-$(mktemp -d /tmp/segq-memory.XXXXXX)}
SMALL=${SMALL:-20}
LARGE=${LARGE:-2000}
THREADS=${THREADS:-2}
BATCH=${BATCH:-8}

mkdir -p "$WORK/model"
cp tests/fixtures/models/tiny/config.json tests/fixtures/models/tiny/model.safetensors "$WORK/model/"
cat > "$WORK/model/preprocessor_config.json" <<'JSON'
{"do_resize": true, "size": {"height": 128, "width": 128}, "do_rescale": true,
 "do_normalize": true, "do_reduce_labels": true}
JSON

make_data() {  # make_data N DIR -> prints the segq eval data arguments
  local n=$1 dir=$2
  if "$SEGQ" --help 2>/dev/null | grep -qE "^ +synth "; then
    "$SEGQ" synth --out "$dir" --n "$n" --size 128x128 --seed 1 --classes 11 >/dev/null
    echo "--data $dir"
  else
    python3 - "$n" "$dir" <<'PY'
import os, struct, sys, zlib
n, root = int(sys.argv[1]), sys.argv[2]
def png(path, w, h, rows, gray):
    raw = b"".join(b"\0" + r for r in rows)
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    hdr = struct.pack(">IIBBBBB", w, h, 8, 0 if gray else 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", hdr) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))
for d in ("images", "labels"): os.makedirs(os.path.join(root, d), exist_ok=True)
for i in range(n):
    img, lab = [], []
    for y in range(128):
        cls = [(x // 32 + y // 32 + i) % 12 for x in range(128)]  # 0 = ignored, 1..11 classes
        lab.append(bytes(cls))
        img.append(bytes(v for c in cls for v in (c * 20, 255 - c * 20, (c * 97 + y) % 256)))
    png(os.path.join(root, "images", f"syn_{i:05d}.png"), 128, 128, img, False)
    png(os.path.join(root, "labels", f"syn_{i:05d}.png"), 128, 128, lab, True)
PY
    echo "--images $dir/images --labels $dir/labels"
  fi
}

for n in "$SMALL" "$LARGE"; do
  data_args=$(make_data "$n" "$WORK/data$n")
  rm -rf "$WORK/run$n"
  timer=()
  if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f "%M" -o "$WORK/time$n"); fi
  # shellcheck disable=SC2086
  "${timer[@]}" "$SEGQ" eval --model "$WORK/model" $data_args --out "$WORK/run$n" \
    --threads "$THREADS" --batch-size "$BATCH" >/dev/null
  rss=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['methods'][0]['timings']['peak_rss_bytes'])" "$WORK/run$n/results.json")
  echo "images=$n peak_rss_mb=$(python3 -c "print(round($rss / 1048576, 1))")" \
    "${timer:+time_maxrss_mb=$(python3 -c "print(round($(cat "$WORK/time$n") / 1024, 1))")}"
done
echo "work dir: $WORK"
