#!/usr/bin/env bash
# What epoch-end checkpoints cost the shipped bag-of-n-grams pipeline (a 91 MB table written
# after each 0.15 s epoch), with `checkpoint_seconds` unset (a checkpoint at every epoch's end)
# and as the pipeline sets it (60: here only the last), one process x 1 thread on core 0, the
# two alternated REPEATS times in one sitting. Prints the medians of the training stage's wall
# seconds (`folio run` on a run directory whose data stages are done: the TF-IDF fit, the
# epochs, the checkpoints, the final model and evaluation), of the epochs' own seconds
# (metrics.jsonl, which leave the checkpoints out), and whether the two trained the same model.
#
#   REPEATS=5 bash bench/checkpoint_cadence_bench.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
REPEATS="${REPEATS:-5}"
FOLIO="${FOLIO:-$ROOT/.build/release/folio}"
PIPELINE="$ROOT/pipelines/bag-of-ngrams.toml"
DATA="${DATA:-/tmp/folio-checkpoint-cadence}"
mkdir -p "$DATA"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel $(uname -r), disk: $(df -P "$DATA" | tail -1 | awk '{print $1}')"
if [[ ! -d "$DATA/prepared" ]]; then
  "$FOLIO" run "$PIPELINE" --run-dir "$DATA/prepared" --set training.epochs=1 --set training.max_samples=64 > /dev/null 2>&1
  rm -rf "$DATA/prepared/model" "$DATA/prepared/checkpoints" "$DATA/prepared/evaluation.json"
fi
: > "$DATA/runs.txt"
for r in $(seq "$REPEATS"); do
  for way in every 60; do
    dir="$DATA/run-$way"
    rm -rf "$dir"; cp -r "$DATA/prepared" "$dir"
    set_seconds=(); [[ $way == every ]] && set_seconds=(--set training.checkpoint_seconds=0)
    start=$(date +%s.%N)
    taskset -c 0 "$FOLIO" run "$PIPELINE" --run-dir "$dir" --set threads=1 "${set_seconds[@]}" > /dev/null 2> "$dir.log"
    end=$(date +%s.%N)
    epochs=$(python3 -c "import json,sys; print(sum(json.loads(l)['seconds'] for l in open(sys.argv[1])))" "$dir/metrics.jsonl")
    echo "$way $(python3 -c "print($end - $start)") $epochs $(sha256sum "$dir/model/model.safetensors" | cut -c1-16)" >> "$DATA/runs.txt"
  done
done
python3 - "$DATA/runs.txt" <<'PY'
import statistics, sys
runs = [line.split() for line in open(sys.argv[1])]
print("| checkpoints | training stage, s (median) | epochs, s (median) | runs | weights |")
print("|---|---:|---:|---:|---|")
for way, name in [("every", "every epoch's end (checkpoint_seconds unset)"), ("60", "checkpoint_seconds = 60 (the pipeline's)")]:
    mine = [r for r in runs if r[0] == way]
    print(f"| {name} | {statistics.median(float(r[1]) for r in mine):.2f} | {statistics.median(float(r[2]) for r in mine):.2f} | {len(mine)} | {mine[0][3]} |")
print("same weights:", len({r[3] for r in runs}) == 1)
PY
