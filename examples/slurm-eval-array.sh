#!/usr/bin/env bash
# Sharded `segq eval` on Slurm: a job array runs one shard per task, then a dependent job merges.
#
#   bash examples/slurm-eval-array.sh    (run on a login node: submits the array, then the merge)
#
# Each task reads its shard from SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of
# SLURM_ARRAY_TASK_COUNT (the array must be contiguous with step 1, e.g. --array=0-7). All tasks
# write into the same RUN_DIR on a shared filesystem; a task that dies (node failure, time limit)
# is resumed by resubmitting it: `--resume` keeps the methods and images it already counted.
#
# Settings (override with the environment, e.g. `SHARDS=16 MODEL=... sbatch ...`):
#SBATCH --job-name=segq-eval
#SBATCH --cpus-per-task=16
#SBATCH --mem=8G
#SBATCH --time=02:00:00
#SBATCH --output=segq-eval-%A_%a.log
set -euo pipefail

SHARDS=${SHARDS:-8}
SEGQ=${SEGQ:-segq}
MODEL=${MODEL:-nvidia/segformer-b0-finetuned-ade-512-512}
DATA=${DATA:-$HOME/data/ADEChallengeData2016.zip}
METHODS=${METHODS:-fp32,fp8,int8,int4,int2}
RUN_DIR=${RUN_DIR:-$PWD/runs/slurm-$(date +%Y%m%d-%H%M%S)}

if [ -z "${SLURM_ARRAY_TASK_ID:-}" ]; then
  # Submission (not inside the array): the array, then the merge once every task succeeded.
  mkdir -p "$RUN_DIR"
  array_id=$(sbatch --parsable --array=0-$((SHARDS - 1)) \
    --export=ALL,SHARDS="$SHARDS",RUN_DIR="$RUN_DIR",MODEL="$MODEL",DATA="$DATA",METHODS="$METHODS",SEGQ="$SEGQ" \
    "$0")
  sbatch --dependency=afterok:"$array_id" --job-name=segq-merge --cpus-per-task=1 --mem=2G \
    --time=00:10:00 --output=segq-merge-%j.log \
    --wrap="$SEGQ merge $RUN_DIR/shards/shard-*-of-$SHARDS.json --out $RUN_DIR"
  echo "submitted array $array_id ($SHARDS shards) and its merge; results: $RUN_DIR/results.json"
  exit 0
fi

# One array task = one shard. --resume makes a requeued or resubmitted task continue its shard.
resume=()
if [ -f "$RUN_DIR/shards/shard-$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))-of-$SHARDS.json" ]; then
  resume=(--resume)
fi
exec "$SEGQ" eval --model "$MODEL" --data "$DATA" --methods "$METHODS" \
  --threads "${SLURM_CPUS_PER_TASK:-16}" --batch-size 4 --out "$RUN_DIR" "${resume[@]}"
