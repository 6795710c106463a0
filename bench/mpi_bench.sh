#!/usr/bin/env bash
# Open MPI on this machine: 2 ranks x 1 thread, each bound to its own core, against 1 process
# x 1 thread bound to one core (unbound, one process's reader or loader thread already uses
# the second core), release build, medians of REPEATS runs in one sitting:
#   - folio vocab and folio shard on ARTICLES generated articles (JSONL, ~300 words each);
#   - the reference LSTM (bench/ref-lstm.toml: 2 x LSTM 128, length 200) at batch 64 per
#     rank, STEPS optimizer steps either way (1 rank: 64 x STEPS samples, 2 ranks twice that);
#   - the bag-of-n-grams pipeline, EPOCHS epochs on the shipped corpus, batch 32 per rank
#     (and each batch size of BAG_BATCHES, e.g. "32 128 512").
# Training figures come from metrics.jsonl (every rank's tokens) and the run's note line
# (seconds per step in the gradient reduction, floats and row ids per step; for a bag model
# whose ranks split the embedding's rows, seconds per step in its collectives and bytes a
# rank sends). BAG_EXTRA="--set training.split_embedding_rows=false" measures the bag model
# data-parallel instead; BAG_COMPARE=1 also runs it data-parallel ("bag-dp" rows) in the
# same repeats, against the same one-process runs. "whole run" is the wall time of the
# training run's `folio run` (vocabulary and shards already made: mpirun's start, the model's
# making, a TF-IDF fit, the epochs, evaluation and reports).
# The reference LSTM and each bag batch size also run two independent one-process runs at
# once, one bound to each core ("ceiling"; CEILING=0 leaves them out): their summed tokens/s
# against one process alone is what this host gives any two processes that share nothing but
# the machine (its memory bandwidth, caches and the hypervisor's other guests), so "2 ranks /
# ceiling" is the part of the speed-up that Folio's ranks lose to each other. Likewise for
# folio vocab and shard: two whole jobs at once, one per core (no upper bound there: they read
# and write twice the bytes that the ranks do).
#
#   DATA=/tmp/folio-mpi-bench  REPEATS=3  ARTICLES=200000  STEPS=12  EPOCHS=3  JOBS_ONLY=1 (vocab and shard only)
#   TRAIN_ONLY=1 (training only)  SKIP_REF=1 (no reference LSTM)  BAG_BATCHES="32"
#   BAG_CORPUS=PATH: the bag pipeline on another corpus than the shipped one (e.g. articles
#   from `folio synth --median-length 300`, the first user's kind of document)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
DATA="${DATA:-/tmp/folio-mpi-bench}"
REPEATS="${REPEATS:-3}"
ARTICLES="${ARTICLES:-200000}"
STEPS="${STEPS:-12}"
EPOCHS="${EPOCHS:-3}"
BAG_BATCHES="${BAG_BATCHES:-32}"
FOLIO="${FOLIO:-$ROOT/.build/release/folio}"
[[ -x "$FOLIO" ]] || (cd "$ROOT" && swift build -c release --product folio)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ONE=(taskset -c 0 "$FOLIO")
TWO=(mpirun --bind-to core -np 2 "$FOLIO")
mkdir -p "$DATA"
OUT="$DATA/results-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel $(uname -r); $(mpirun --version | head -1)" | tee "$OUT/machine.txt"

summarize() {
python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
jobs = {}
import os
for line in (open(out + "/jobs.txt") if os.path.exists(out + "/jobs.txt") else []):
    job, ranks, seconds = line.split()
    jobs.setdefault((job, ranks), []).append(float(seconds))
if jobs:
    print("| job | 1 process, s | 2 ranks, s | speed-up (paired) | ceiling: 2 jobs at once, s a job (paired) | 2 ranks / ceiling (paired) |")
    print("|---|---:|---:|---:|---:|---:|")
for job in ["vocab", "shard"] if jobs else []:
    ones, twos, pairs = jobs[(job, "1")], jobs[(job, "2")], jobs.get((job, "ceiling"), [])
    one, two = statistics.median(ones), statistics.median(twos)
    ceiling = "- | -"
    if pairs:
        both = statistics.median(pairs)
        ceiling = (f"{both:.2f} ({one / both:.2f}x; {statistics.median(a / b for a, b in zip(ones, pairs)):.2f}x) | "
                   f"{both / two:.0%} ({statistics.median(b / t for b, t in zip(pairs, twos)):.0%})")
    print(f"| folio {job} | {one:.2f} | {two:.2f} | {one / two:.2f}x ({statistics.median(a / b for a, b in zip(ones, twos)):.2f}x) | {ceiling} |")
runs = {}
for line in (open(out + "/training.jsonl") if os.path.exists(out + "/training.jsonl") else []):
    d = json.loads(line)
    runs.setdefault((d["model"], d["ranks"]), []).append(d)
# The host's load drifts within a sitting, so each ratio is also taken within a repeat (the
# runs of one repeat follow each other) and its median given as "paired".
def paired(a, b):
    return statistics.median(x["tokens_per_second"] / y["tokens_per_second"] for x, y in zip(a, b))
if not runs:
    sys.exit()
print()
print("| training | 1 process tokens/s | 2 ranks tokens/s | speed-up (paired) | reduction s/step | bytes/step "
      "| ceiling: 2 processes at once (paired) | 2 ranks / ceiling (paired) | whole run, s: 1 process / 2 ranks (paired) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for model in sorted({m for m, r in runs if r != "ceiling"}, key=lambda m: (m != "ref", len(m.removesuffix("-dp")), m)):
    ones, twos = runs[(model.removesuffix("-dp"), 1)], runs[(model, 2)]
    one = statistics.median(d["tokens_per_second"] for d in ones)
    two = statistics.median(d["tokens_per_second"] for d in twos)
    reduction = statistics.median(d["reduction_seconds_per_step"] for d in twos)
    moved = statistics.median(d["bytes_per_step"] for d in twos)
    ceiling = "| - | -"
    if (model.removesuffix("-dp"), "ceiling") in runs:
        boths = runs[(model.removesuffix("-dp"), "ceiling")]
        both = statistics.median(d["tokens_per_second"] for d in boths)
        ceiling = f"| {both:,.0f} ({both / one:.2f}x; {paired(boths, ones):.2f}x) | {two / both:.0%} ({paired(twos, boths):.0%})"
    whole = "-"  # the reference LSTM's 2 ranks train twice the samples in its fixed steps
    if model != "ref" and all("run_seconds" in d for d in ones + twos):
        whole = (f"{statistics.median(d['run_seconds'] for d in ones):.2f} / {statistics.median(d['run_seconds'] for d in twos):.2f} "
                 f"({statistics.median(x['run_seconds'] / y['run_seconds'] for x, y in zip(ones, twos)):.2f}x)")
    print(f"| {model} | {one:,.0f} | {two:,.0f} | {two / one:.2f}x ({paired(twos, ones):.2f}x) | {reduction:.4f} | {moved:,.0f} {ceiling} | {whole} |")
PY
}

# The reference LSTM's articles, made here so that TRAIN_ONLY runs on a new DATA folder too.
[[ -n "${SKIP_REF:-}" || -f "$DATA/ref.jsonl" ]] || "$FOLIO" synth --out "$DATA/ref.jsonl" --articles 8000 --median-length 200 --test-every 10 > /dev/null
if [[ -z "${TRAIN_ONLY:-}" ]]; then
[[ -f "$DATA/synth.jsonl" ]] || "$FOLIO" synth --out "$DATA/synth.jsonl" --articles "$ARTICLES" --test-every 0 > /dev/null
"$FOLIO" vocab "$DATA/synth.jsonl" --out "$DATA/synth.tsv" --max-tokens 20000 > /dev/null

seconds() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['seconds'])"; }
for r in $(seq "$REPEATS"); do
  echo "vocab 1 $("${ONE[@]}" vocab "$DATA/synth.jsonl" --out "$DATA/v1.tsv" --threads 1 --json | seconds)" >> "$OUT/jobs.txt"
  echo "vocab 2 $("${TWO[@]}" vocab "$DATA/synth.jsonl" --out "$DATA/v2.tsv" --threads 1 --json | seconds)" >> "$OUT/jobs.txt"
  cmp "$DATA/v1.tsv" "$DATA/v2.tsv"
  echo "shard 1 $("${ONE[@]}" shard "$DATA/synth.jsonl" --vocabulary "$DATA/synth.tsv" --out "$DATA/s1" --threads 1 --json | seconds)" >> "$OUT/jobs.txt"
  echo "shard 2 $("${TWO[@]}" shard "$DATA/synth.jsonl" --vocabulary "$DATA/synth.tsv" --out "$DATA/s2" --threads 1 --json | seconds)" >> "$OUT/jobs.txt"
  if [[ "${CEILING:-1}" != 0 ]]; then
    # Two whole jobs at once, one per core: the pair's wall time over two is their seconds a job.
    for job in vocab shard; do
      for core in 0 1; do
        if [[ $job == vocab ]]; then args=(vocab "$DATA/synth.jsonl" --out "$DATA/v-alone$core.tsv")
        else args=(shard "$DATA/synth.jsonl" --vocabulary "$DATA/synth.tsv" --out "$DATA/s-alone$core"); fi
        taskset -c "$core" "$FOLIO" "${args[@]}" --threads 1 --json | seconds > "$DATA/alone$core.txt" &
      done
      wait
      echo "$job ceiling $(python3 -c "import sys; print(max(float(open(f).read()) for f in sys.argv[1:]) / 2)" "$DATA/alone0.txt" "$DATA/alone1.txt")" >> "$OUT/jobs.txt"
    done
  fi
done

fi
if [[ -n "${JOBS_ONLY:-}" ]]; then summarize; exit 0; fi

# A run directory with the data stages done (by one process), copied for each training run.
prepare() {  # NAME PIPELINE ARGS...
  local name=$1 pipeline=$2; shift 2
  rm -rf "$DATA/$name-prepared"
  "$FOLIO" run "$pipeline" --run-dir "$DATA/$name-prepared" --set training.epochs=1 --set training.max_samples=64 "$@" > /dev/null 2>&1
  rm -rf "$DATA/$name-prepared/model" "$DATA/$name-prepared/checkpoints" "$DATA/$name-prepared/evaluation.json"
}
train() {  # NAME RANKS PIPELINE ARGS...
  local name=$1 ranks=$2 pipeline=$3; shift 3
  local dir="$DATA/$name-$ranks"
  rm -rf "$dir"; cp -r "$DATA/$name-prepared" "$dir"
  local launcher=("${ONE[@]}"); [[ $ranks == 2 ]] && launcher=("${TWO[@]}")
  local start; start=$(date +%s.%N)
  "${launcher[@]}" run "$pipeline" --run-dir "$dir" --set threads=1 "$@" > /dev/null 2> "$dir.log"
  RUN_SECONDS=$(python3 -c "import sys, time; print(time.time() - float(sys.argv[1]))" "$start") record "$dir" "$name" "$ranks"
}
ceiling() {  # NAME PIPELINE ARGS...: two independent one-process runs at once, one per core
  local name=$1 pipeline=$2; shift 2
  for core in 0 1; do
    local dir="$DATA/$name-alone$core"
    rm -rf "$dir"; cp -r "$DATA/$name-prepared" "$dir"
    taskset -c "$core" "$FOLIO" run "$pipeline" --run-dir "$dir" --set threads=1 "$@" > /dev/null 2> "$dir.log" &
  done
  wait
  record "$DATA/$name-alone0" "$name" ceiling "$DATA/$name-alone1"
}
record() {  # DIR NAME RANKS [DIR of the ceiling's second run]
  python3 - "$@" <<'PY' >> "$OUT/training.jsonl"
import json, os, re, sys
folder, name, ranks = sys.argv[1:4]
epochs = [json.loads(l) for l in open(folder + "/metrics.jsonl")]
tokens = sum(e["tokens_per_s"] * e["seconds"] for e in epochs)
seconds = sum(e["seconds"] for e in epochs)
log = open(folder + ".log").read()
note = re.search(r"gradient reduction: ([0-9.]+) s per step, (\d+) floats and (\d+) row ids", log)
rows = re.search(r"embedding rows split between \d+ ranks: ([0-9.]+) s per step in collectives, (\d+) bytes a step", log)
reduction, moved = 0.0, 0
if note: reduction, moved = float(note.group(1)), (int(note.group(2)) + int(note.group(3))) * 4
if rows: reduction, moved = float(rows.group(1)), int(rows.group(2))
if ranks == "ceiling":
    other = [json.loads(l) for l in open(sys.argv[4] + "/metrics.jsonl")]
    tokens_per_second = tokens / seconds + sum(e["tokens_per_s"] * e["seconds"] for e in other) / sum(e["seconds"] for e in other)
    print(json.dumps({"model": name, "ranks": ranks, "tokens_per_second": tokens_per_second}))
    sys.exit()
print(json.dumps({"model": name, "ranks": int(ranks), "tokens_per_second": tokens / seconds, "seconds": seconds,
                  "steps": epochs[-1]["optimizer_steps"], "reduction_seconds_per_step": reduction, "bytes_per_step": moved,
                  "run_seconds": float(os.environ["RUN_SECONDS"]),
                  "way": "rows" if rows else "batches"}))
PY
}

cd "$DATA"
cp "$ROOT/bench/ref-lstm.toml" "$DATA/ref-lstm.toml"
[[ -n "${SKIP_REF:-}" ]] || prepare ref "$DATA/ref-lstm.toml"
BAG_SET=(); [[ -z "${BAG_CORPUS:-}" ]] || BAG_SET=(--set corpus.path="$BAG_CORPUS")
prepare bag "$ROOT/pipelines/bag-of-ngrams.toml" "${BAG_SET[@]}"
for r in $(seq "$REPEATS"); do
  if [[ -z "${SKIP_REF:-}" ]]; then
    train ref 1 "$DATA/ref-lstm.toml" --set loader.batch_size=64 --set training.max_samples=$((64 * STEPS))
    train ref 2 "$DATA/ref-lstm.toml" --set loader.batch_size=64 --set training.max_samples=$((128 * STEPS))
    [[ "${CEILING:-1}" == 0 ]] || ceiling ref "$DATA/ref-lstm.toml" --set loader.batch_size=64 --set training.max_samples=$((64 * STEPS))
  fi
  for b in $BAG_BATCHES; do
    name=bag; [[ $b == 32 ]] || name=bag$b
    [[ -d "$DATA/$name-prepared" ]] || cp -r "$DATA/bag-prepared" "$DATA/$name-prepared"
    bag=("$ROOT/pipelines/bag-of-ngrams.toml" "${BAG_SET[@]}" --set training.epochs="$EPOCHS" --set loader.batch_size="$b")
    train "$name" 1 "${bag[@]}" ${BAG_EXTRA:-}
    train "$name" 2 "${bag[@]}" ${BAG_EXTRA:-}
    [[ "${CEILING:-1}" == 0 ]] || ceiling "$name" "${bag[@]}"
    if [[ -n "${BAG_COMPARE:-}" ]]; then
      [[ -d "$DATA/$name-dp-prepared" ]] || cp -r "$DATA/bag-prepared" "$DATA/$name-dp-prepared"
      train "$name-dp" 2 "${bag[@]}" --set training.split_embedding_rows=false
    fi
  done
done

summarize
