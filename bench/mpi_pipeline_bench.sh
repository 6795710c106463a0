#!/usr/bin/env bash
# The shipped bag-of-n-grams pipeline end to end under Open MPI, as a user runs it: one process
# (unbound, the pipeline's 2 threads) against `mpirun --bind-to core -np 2` (1 thread each),
# alternating, REPEATS pairs, release build. The data stages are prepared once and copied, so
# each run is training (50 epochs, its checkpoints) and the test split's evaluation. Prints one
# JSON line a run: wall seconds, training seconds and tokens/s (metrics.jsonl), test figures.
# Two ranks train with a virtual batch of 64 (2 x 32), one process with 32: their test figures
# differ for that reason.
#
#   DATA=/tmp/folio-mpi-pipeline  REPEATS=3
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
DATA="${DATA:-/tmp/folio-mpi-pipeline}"
REPEATS="${REPEATS:-3}"
FOLIO="$ROOT/.build/release/folio"
PIPELINE="$ROOT/pipelines/bag-of-ngrams.toml"
[[ -x "$FOLIO" ]] || (cd "$ROOT" && swift build -c release --product folio)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$DATA"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel $(uname -r); $(mpirun --version | head -1)"
rm -rf "$DATA/prepared"
"$FOLIO" run "$PIPELINE" --run-dir "$DATA/prepared" --set training.epochs=1 --set training.max_samples=64 > /dev/null 2>&1
rm -rf "$DATA/prepared/model" "$DATA/prepared/checkpoints" "$DATA/prepared/evaluation.json"
for _ in $(seq "$REPEATS"); do
  for way in one two; do
    rm -rf "$DATA/$way"; cp -r "$DATA/prepared" "$DATA/$way"
    started=$(date +%s.%N)
    if [[ $way == one ]]; then
      "$FOLIO" run "$PIPELINE" --run-dir "$DATA/$way" --json > "$DATA/$way.out" 2> "$DATA/$way.log"
    else
      mpirun --bind-to core -np 2 "$FOLIO" run "$PIPELINE" --run-dir "$DATA/$way" --set threads=1 --json > "$DATA/$way.out" 2> "$DATA/$way.log"
    fi
    ended=$(date +%s.%N)
    python3 - "$DATA/$way" "$way" "$started" "$ended" <<'PY'
import json, sys
folder, way, started, ended = sys.argv[1:]
epochs = [json.loads(line) for line in open(folder + "/metrics.jsonl")]
tokens = sum(e["tokens_per_s"] * e["seconds"] for e in epochs)
seconds = sum(e["seconds"] for e in epochs)
result = json.loads(open(folder + ".out").read().strip().splitlines()[-1])
print(json.dumps({"way": way, "wall_s": round(float(ended) - float(started), 1), "train_s": round(seconds, 1),
                  "tokens_per_s": round(tokens / seconds), "test_accuracy": result.get("accuracy"), "macro_f1": result.get("macro_f1")}))
PY
  done
done
