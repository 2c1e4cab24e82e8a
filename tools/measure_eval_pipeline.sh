#!/usr/bin/env bash
# The `segq eval` pipeline against the bare forward pass (issue 7's target: the pipeline keeps at
# least 90 % of model-only images/s). Same model, same input size, same batch, same threads:
#
#   model-only  segq bench --model M --size 512x512 --batch B          (median images/s)
#   pipeline    segq eval  --model M --data D --methods fp32 --batch-size B
#               images/s of results.json: images / the method's wall time, which includes JPEG
#               and PNG decoding, resizing and normalization (overlapped on --data-workers
#               threads), the forward pass, upsampling the logits to label size, argmax and the
#               confusion counts.
#
# Both with the decode head plain (eval's default, transformers' arithmetic; bench --no-fold) and
# folded (eval --fold-decode-head; bench's default).
#
#   tools/measure_eval_pipeline.sh [build/segq] [workdir]     (N=32 images, BATCHES="1 8")
#
# Model: the demo model (assets/models/segformer-b0-synth150, b0) with its preprocessor set to
# 512x512. Data: N `segq synth` scenes at 512x512 (ADE layout, JPEG images, PNG labels).
set -euo pipefail
cd "$(dirname "$0")/.."
SEGQ=${1:-build/segq}
WORK=${2:-$(mktemp -d /tmp/segq-pipeline.XXXXXX)}
N=${N:-32}
BATCHES=${BATCHES:-"1 8"}
REPEATS=${REPEATS:-3}
THREADS=${THREADS:-$(nproc)}

mkdir -p "$WORK/model"
cp assets/models/segformer-b0-synth150/config.json assets/models/segformer-b0-synth150/*.safetensors \
  "$WORK/model/"
python3 - "$WORK/model/preprocessor_config.json" \
  assets/models/segformer-b0-synth150/preprocessor_config.json <<'PY'
import json, sys
p = json.load(open(sys.argv[2]))
p["size"] = {"height": 512, "width": 512}
json.dump(p, open(sys.argv[1], "w"), indent=1)
PY
[ -d "$WORK/data" ] || "$SEGQ" synth --out "$WORK/data" --n "$N" --size 512x512 --seed 11 >/dev/null

echo "segq eval pipeline vs model-only, b0 512x512, $N images, $THREADS threads ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
printf '%-6s %-7s %14s %14s %7s\n' head batch "model img/s" "eval img/s" ratio
for fold in plain folded; do
  for b in $BATCHES; do
    if [ "$fold" = plain ]; then bench_fold=--no-fold; eval_fold=; else bench_fold=; eval_fold=--fold-decode-head; fi
    model=$("$SEGQ" bench --model "$WORK/model" --size 512x512 --batch "$b" --threads "$THREADS" \
      --warmup 1 --repeats "$REPEATS" $bench_fold --json |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["images_per_s"])')
    out="$WORK/run-$fold-b$b"
    rm -rf "$out"
    SEGQ_LOG=warn "$SEGQ" eval --model "$WORK/model" --data "$WORK/data" --methods fp32 \
      --batch-size "$b" --threads "$THREADS" $eval_fold --out "$out" >"$out.log" 2>&1
    pipe=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["methods"][0]; print(m["timings"]["images_per_s"])' \
      "$out/results.json")
    python3 -c 'import sys; h,b,m,p=sys.argv[1:]; m=float(m); p=float(p); print(f"{h:<6} {b:<7} {m:14.2f} {p:14.2f} {p/m:7.2f}")' \
      "$fold" "$b" "$model" "$pipe"
  done
done
