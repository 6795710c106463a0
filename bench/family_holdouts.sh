#!/usr/bin/env bash
# Which tuned family to pick, from more validation documents than one tune's holdout: each
# family's `tuned.toml` (the refit form `folio tune` writes: its chosen trial's settings and
# epochs, no early stopping) trained again on the training split with 10 % held out by each
# `validation_seed` of SEEDS, and scored on those held-out documents. The corpus is copied
# without its test split (its label folders at the top), so `folio run` evaluates on the
# validation documents and the test split is never read. Prints each run's validation
# accuracy and macro-F1, each family's means, and the family with the higher mean accuracy
# (then macro-F1).
#
#   bash bench/family_holdouts.sh NAME CORPUS BAG_TUNED_TOML LSTM_TUNED_TOML [group]
#   SEEDS="1 2 3" WORK=/tmp/folio-family-holdouts     # defaults
#   FAMILIES=bag ...      # one family again (the other's figures of an earlier sitting stand)
# `group`: held out by group (validation_by = "group"), for corpora whose test split is
# cut by group and whose tunes validated so.
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=$1 CORPUS=$2 BAG=$3 LSTM=$4 BY=${5:-document}
[[ $BY == group || $BY == document ]] || { echo "the fifth argument is 'group' or nothing, not '$BY'" >&2; exit 2; }
SEEDS=${SEEDS:-1 2 3}
WORK=${WORK:-/tmp/folio-family-holdouts}
FOLIO=${FOLIO:-$(pwd)/.build/release/folio}
[[ -x "$FOLIO" ]] || swift build -c release --product folio >/dev/null
mkdir -p "$WORK/corpora" "$WORK/runs"
if [[ ! -d "$WORK/corpora/$NAME/train" ]]; then
  rm -rf "$WORK/corpora/$NAME.partial"; mkdir -p "$WORK/corpora/$NAME.partial"
  # The label folders at the top (a train/ without a test/ beside it would be read as one label).
  cp -r "$CORPUS/train/." "$WORK/corpora/$NAME.partial/"
  mv "$WORK/corpora/$NAME.partial" "$WORK/corpora/$NAME"
fi
out="$WORK/$NAME.jsonl"
: > "$out"
for seed in $SEEDS; do
  for family in ${FAMILIES:-bag lstm}; do
    toml=$BAG; [[ $family == lstm ]] && toml=$LSTM
    dir="$WORK/runs/$NAME-$family-$seed"
    rm -rf "$dir"
    "$FOLIO" run "$toml" --run-dir "$dir" --set corpus.path="$WORK/corpora/$NAME" --set training.validation_split=0.1 \
      --set training.validation_by=$BY --set training.validation_seed="$seed" --json 2>"$dir.err" | tail -1 \
      | python3 -c "import json, sys; r = json.load(sys.stdin); assert r['evaluated_on'] == 'validation', r['evaluated_on']; print(json.dumps({'family': '$family', 'seed': $seed, 'accuracy': r['accuracy'], 'macro_f1': r['macro_f1'], 'examples': r['validation_examples'], 'seconds': r['seconds']}))" >> "$out"
  done
done
python3 - "$out" "$NAME" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
print(f"{sys.argv[2]}:")
means = {}
for family in ["bag", "lstm"]:
    mine = [r for r in runs if r["family"] == family]
    if not mine:
        continue
    means[family] = (statistics.mean(r["accuracy"] for r in mine), statistics.mean(r["macro_f1"] for r in mine))
    each = ", ".join(f"seed {r['seed']} {r['accuracy']:.4f} / {r['macro_f1']:.4f} ({r['examples']})" for r in mine)
    print(f"  {family}: mean {means[family][0]:.4f} / {means[family][1]:.4f}  [{each}]")
print("  picks:", max(means, key=lambda f: means[f]))
PY
