#!/usr/bin/env bash
# Held-out accuracy of a pipeline on six corpora made of the shipped corpus's TRAINING split
# alone (seeds 1-6: 10 % of each section's files moved to a test folder), each run end to
# end so that the vocabulary never sees the held-out documents: how the shipped settings are
# chosen without looking at the test split. Prints the six accuracies and their mean;
# with --baseline, the TF-IDF + logistic-regression baseline's on the same corpora.
# Usage: bench/heldout_quality.sh NAME PIPELINE [--set key=value ...]
#        bench/heldout_quality.sh --baseline
# Release build; two runs at a time, one thread each (results do not depend on threads).
set -euo pipefail
folio=${FOLIO:-.build/release/folio}
python=${PEERS_PYTHON:-$HOME/.cache/folio-peers-venv/bin/python}
work=${HELDOUT_DIR:-runs/heldout}
mkdir -p "$work"
python3 - "$work" <<'PY'
import os, random, shutil, sys
source, work = "corpora/debian-packages/train", sys.argv[1]
for seed in range(1, 7):
    out = os.path.join(work, f"corpus{seed}")
    if os.path.exists(os.path.join(out, ".complete")):
        continue
    shutil.rmtree(out, ignore_errors=True)
    rng = random.Random(seed)
    for label in sorted(os.listdir(source)):
        names = sorted(os.listdir(os.path.join(source, label)))
        rng.shuffle(names)
        for index, name in enumerate(names):
            folder = os.path.join(out, "test" if index < len(names) // 10 else "train", label)
            os.makedirs(folder, exist_ok=True)
            shutil.copy(os.path.join(source, label, name), folder)
    open(os.path.join(out, ".complete"), "w").close()
PY
if [ "${1:-}" = "--baseline" ]; then
  for seed in 1 2 3 4 5 6; do "$python" bench/tfidf_baseline.py "$work/corpus$seed"; done > "$work/baseline.jsonl"
  results=("$work/baseline.jsonl"); name=baseline
else
  name=$1; pipeline=$2; shift 2
  run() { "$folio" run "$pipeline" --set corpus.path="$PWD/$work/corpus$1" --set threads=1 "${@:2}" \
            --run-dir "$work/$name-$1" --json 2>/dev/null | tail -1 > "$work/$name-$1.json"; }
  for seed in 1 3 5; do run $seed "$@" & run $((seed + 1)) "$@"; wait; done
  cat "$work/$name"-[1-6].json > "$work/$name.jsonl"
  results=("$work/$name.jsonl")
fi
python3 - "$name" "${results[0]}" <<'PY'
import json, sys
accuracies = [json.loads(line)["accuracy"] * 100 for line in open(sys.argv[2]) if line.strip()]
assert len(accuracies) == 6, f"{len(accuracies)} of 6 runs finished"
print(sys.argv[1], " ".join(f"{a:.2f}" for a in accuracies), f"mean {sum(accuracies) / 6:.2f}")
PY
