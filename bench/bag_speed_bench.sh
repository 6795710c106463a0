#!/usr/bin/env bash
# Training speed of the bag-of-n-grams pipeline, one process x 1 thread on core 0, for one or
# more folio binaries run alternately in one sitting (an A/B of a change): EPOCHS epochs at
# each batch size of BATCHES on the shipped corpus, REPEATS runs each; prints the median
# training tokens/s (metrics.jsonl) and the median seconds of the whole training stage (with
# a TF-IDF fit, where the pipeline weighs) per binary and batch size, and whether the models
# agree. PIPELINE names another pipeline over the shipped corpus (e.g. a tuned.toml).
#
#   BINARIES="/tmp/folio-before .build/release/folio"  REPEATS=5  EPOCHS=6  BATCHES="32 512"  PIPELINE=...
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
REPEATS="${REPEATS:-5}"
EPOCHS="${EPOCHS:-6}"
BATCHES="${BATCHES:-32 512}"
BINARIES="${BINARIES:-$ROOT/.build/release/folio}"
PIPELINE="${PIPELINE:-$ROOT/pipelines/bag-of-ngrams.toml}"
DATA="${DATA:-/tmp/folio-bag-speed-$(basename "$PIPELINE" .toml)}"
mkdir -p "$DATA"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel $(uname -r)"
first=${BINARIES%% *}
# The data stages once (vocabulary and shards), copied for every run.
if [[ ! -d "$DATA/prepared" ]]; then
  "$first" run "$PIPELINE" --run-dir "$DATA/prepared" --set training.epochs=1 --set training.max_samples=64 > /dev/null 2>&1
  rm -rf "$DATA/prepared/model" "$DATA/prepared/checkpoints" "$DATA/prepared/evaluation.json"
fi
: > "$DATA/runs.txt"
for r in $(seq "$REPEATS"); do
  index=0
  for binary in $BINARIES; do
    for batch in $BATCHES; do
      dir="$DATA/run-$index-$batch"
      rm -rf "$dir"; cp -r "$DATA/prepared" "$dir"
      started=$(date +%s.%N)
      taskset -c 0 "$binary" run "$PIPELINE" --run-dir "$dir" --set threads=1 --set training.epochs="$EPOCHS" \
        --set loader.batch_size="$batch" > /dev/null 2>&1
      ended=$(date +%s.%N)
      python3 -c "import json,sys; e=[json.loads(l) for l in open(sys.argv[1])]; t=sum(x['seconds'] for x in e); print(sys.argv[2], sys.argv[3], round(sum(x['tokens_per_s']*x['seconds'] for x in e)/t), round(float(sys.argv[5]) - float(sys.argv[4]), 2))" \
        "$dir/metrics.jsonl" "$index" "$batch" "$started" "$ended" >> "$DATA/runs.txt"
    done
    index=$((index + 1))
  done
done
python3 - "$DATA/runs.txt" "$BINARIES" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    index, batch, tps, seconds = line.split()
    runs.setdefault((int(index), int(batch)), []).append((int(tps), float(seconds)))
binaries = sys.argv[2].split()
print("| binary | batch | training tokens/s (median) | run seconds (median) | runs (tokens/s) |")
print("|---|---:|---:|---:|---|")
for (index, batch), values in sorted(runs.items()):
    print(f"| {binaries[index]} | {batch} | {statistics.median(v[0] for v in values):,.0f} | {statistics.median(v[1] for v in values):.2f} | {', '.join(f'{v[0]:,}' for v in values)} |")
PY
for batch in $BATCHES; do
  for index in $(seq 1 $(( $(wc -w <<< "$BINARIES") - 1 ))); do
    cmp -s "$DATA/run-0-$batch/model/model.safetensors" "$DATA/run-$index-$batch/model/model.safetensors" \
      && echo "batch $batch: binary $index's model is binary 0's, byte for byte" || echo "batch $batch: binary $index's model differs from binary 0's"
  done
done
