#!/usr/bin/env bash
# Pretrained word vectors on the shipped corpus: the LSTM (pipelines/demo.toml) and conv
# (pipelines/conv.toml) pipelines from scratch, and with an [embed] stage (skip-gram vectors
# of the embedding's size trained on the training split's text: fine-tuned, frozen, and
# with the synopses of the other Debian packages as unlabeled text too,
# bench/build-debian-synopses.py), next to TF-IDF + logistic regression.
# Every variant reports its best validation accuracy (the epoch restore_best_weights
# keeps: how a variant would be chosen) and its test accuracy and macro-F1 (reported once,
# never used to choose). Release build, one seed; prints a Markdown table.
#
#   bash bench/pretrained_quality.sh [WORK]
#   CORPUS=/tmp/man-sections VARIANTS="demo demo-vectors" bash bench/pretrained_quality.sh /tmp/man-quality
# (another label-per-folder corpus with train/ and test/, e.g. bench/build-manpages-corpus.py --folder;
# the synopses variant belongs to the shipped corpus only).
#   VALIDATION_BY=group CORPUS=/tmp/docstrings VARIANTS="demo demo-vectors conv conv-vectors" bash ...
# (every pipeline validates on whole held-out groups, docs/reference.md: for corpora whose test
# split holds modules or packages never trained on, bench/build-docstrings-corpus.py, ...)
#   EXTRA=/tmp/docstrings-unlabeled.jsonl VARIANTS="... demo-vectors-extra conv-vectors-extra" bash ...
# (the [embed] vectors learn from the training split and EXTRA, unlabeled text of the same kind
# that holds nothing of the test split: bench/build-docstrings-corpus.py --unlabeled)
#   SETS="--set loader.batch_size=16 ..." bash ...   (passed to every folio run: e.g. a tune's settings)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/folio-pretrained-quality}
PY=${PEERS_VENV:-$HOME/.cache/folio-peers-venv}/bin/python
mkdir -p "$WORK"
swift build -c release --product folio >/dev/null
FOLIO=$(pwd)/.build/release/folio
CORPUS=${CORPUS:-$(pwd)/corpora/debian-packages}
VARIANTS=${VARIANTS:-demo demo-vectors demo-vectors-frozen demo-vectors-synopses conv conv-vectors}
case "$VARIANTS" in *synopses*) [ -s "$WORK/synopses.jsonl" ] || python3 bench/build-debian-synopses.py "$WORK/synopses.jsonl" ;; esac

# pipeline NAME BASE EMBED_TABLE FROZEN: a copy of pipelines/BASE.toml under NAME with the
# corpus path made absolute, an [embed] table appended when given, the embedding frozen when asked.
pipeline() {
  local name=$1 base=$2 embed=$3 frozen=$4
  sed -e "s|^path = .*|path = \"$CORPUS\"|" -e "s/^name = .*/name = \"$name\"/" "pipelines/$base.toml" >"$WORK/$name.toml"
  if [ "$frozen" = yes ]; then sed -i '0,/^output_dim = /s//trainable = false\noutput_dim = /' "$WORK/$name.toml"; fi
  if [ -n "$embed" ]; then printf '\n[embed]\n%b\n' "$embed" >>"$WORK/$name.toml"; fi
  if [ -n "${VALIDATION_BY:-}" ]; then sed -i "s/^\[training\]\$/[training]\nvalidation_by = \"$VALIDATION_BY\"/" "$WORK/$name.toml"; fi
}
pipeline demo demo "" no
pipeline demo-vectors demo 'model = "skipgram"' no
pipeline demo-vectors-frozen demo 'model = "skipgram"' yes
pipeline demo-vectors-synopses demo "model = \"skipgram\"\ncorpora = [\"$WORK/synopses.jsonl\"]" no
pipeline conv conv "" no
pipeline conv-vectors conv 'model = "skipgram"' no
if [ -n "${EXTRA:-}" ]; then
  pipeline demo-vectors-extra demo "model = \"skipgram\"\ncorpora = [\"$EXTRA\"]" no
  pipeline conv-vectors-extra conv "model = \"skipgram\"\ncorpora = [\"$EXTRA\"]" no
fi

echo "| pipeline | embedding | best val_accuracy | test accuracy % | macro-F1 | seconds |"
echo "|---|---|---:|---:|---:|---:|"
for name in $VARIANTS; do
  # shellcheck disable=SC2086 # SETS is a list of options
  "$FOLIO" run "$WORK/$name.toml" --run-dir "$WORK/runs/$name" --json ${SETS:-} 2>"$WORK/$name.err" | tail -1 >"$WORK/$name.json"
  python3 - "$WORK/$name.json" "$WORK/runs/$name/metrics.jsonl" "$name" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
best = max(json.loads(line).get("val_accuracy", 0) for line in open(sys.argv[2]))
name = sys.argv[3]
kind = ("from scratch" if "vectors" not in name else "[embed], frozen" if "frozen" in name else "[embed] + synopses" if "synopses" in name
        else "[embed] + unlabeled" if "extra" in name else "[embed], fine-tuned")
print(f"| {name.split('-')[0]} | {kind} | {best:.4f} | {result['accuracy'] * 100:.2f} | {result['macro_f1']:.4f} | {result['seconds']:.0f} |")
PY
done
"$PY" bench/tfidf_baseline.py "$CORPUS" | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(f\"| TF-IDF + logistic regression | | | {d['accuracy'] * 100:.2f} | {d['macro_f1']:.4f} | |\")"
