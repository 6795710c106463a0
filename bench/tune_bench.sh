#!/usr/bin/env bash
# `folio tune` against its baselines, one sitting: on each corpus (the shipped one; the
# manual pages by section, bench/build-manpages-corpus.py --folder; the message catalogs by
# language, bench/build-locale-corpus.py; Python sources by PyPI package,
# bench/build-python-sources-corpus.py; API docstrings by subpackage,
# bench/build-docstrings-corpus.py; Debian changelog entries by era,
# bench/build-changelog-era-corpus.py), `folio tune`
# of the bag-of-ngrams and the LSTM pipeline for BUDGET each (2 threads), then TF-IDF +
# logistic regression (C chosen on validation) and fastText with -autotune-validation for
# the same BUDGET (bench/tune_baselines.py). Every model chooses on validation data carved
# from train/ and reads test/ once. Prints a Markdown table; raw lines in WORK/*.json.
#
#   bash bench/tune_bench.sh [WORK]        # BUDGET=10m, CORPUS_NAMES="shipped man-sections" by default
#   CORPUS_NAMES="locale python-sources" bash bench/tune_bench.sh
#   SKIP_BASELINES=1 ...                   # folio tune alone (the baselines do not change with Folio)
#   FAMILIES=demo ...                      # one pipeline family
#   FINAL=replay ...                       # the final model trained as the chosen trial was
#                                          # (default: refitted on the whole training split);
#                                          # on a WORK of an earlier sitting the trials are read
#                                          # back, not searched again: WORK/<corpus>-<family>-replay.json
#   HOLDOUTS=3 ...                         # folio tune --holdouts: the choice scored on 3 more
#                                          # holdouts (docs/tuning.md, choosing between families)
#   VALIDATION_BY=group ...                # every model validates on whole held-out groups
#                                          # (a module, a source package: the folders below the
#                                          # label folders), the same documents for all
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/folio-tune-bench}
BUDGET=${BUDGET:-10m}
SECONDS_BUDGET=$(python3 -c "import sys; b='$BUDGET'; print(int(float(b[:-1]) * {'s': 1, 'm': 60, 'h': 3600}[b[-1]]) if b[-1] in 'smh' else int(b))")
PY=${PEERS_VENV:-$HOME/.cache/folio-peers-venv}/bin/python
mkdir -p "$WORK"
swift build -c release --product folio >/dev/null
FOLIO=$(pwd)/.build/release/folio
# The corpora of bench/build-*-corpus.py, built when named and missing.
declare -A CORPORA=([shipped]="$(pwd)/corpora/debian-packages" [man-sections]="$WORK/man-sections" [locale]="$WORK/locale"
                    [python-sources]="$WORK/python-sources" [docstrings]="$WORK/docstrings" [changelog-era]="$WORK/changelog-era")
declare -A BUILDERS=([man-sections]="build-manpages-corpus.py --folder" [locale]="build-locale-corpus.py"
                     [python-sources]="build-python-sources-corpus.py" [docstrings]="build-docstrings-corpus.py"
                     [changelog-era]="build-changelog-era-corpus.py")
for corpus in ${CORPUS_NAMES:-shipped man-sections}; do
  [ -z "${BUILDERS[$corpus]:-}" ] || [ -d "${CORPORA[$corpus]}/train" ] || python3 bench/${BUILDERS[$corpus]} "${CORPORA[$corpus]}" >/dev/null
done

echo "| corpus | model | chosen on validation | test accuracy % | macro-F1 |"
echo "|---|---|---|---:|---:|"
for corpus in ${CORPUS_NAMES:-shipped man-sections}; do
  for family in ${FAMILIES:-bag-of-ngrams demo}; do
    sed "s|^path = .*|path = \"${CORPORA[$corpus]}\"|; s/^name = .*/name = \"$corpus-$family\"/" "pipelines/$family.toml" >"$WORK/$corpus-$family.toml"
    raw="$WORK/$corpus-$family${FINAL:+-$FINAL}"
    "$FOLIO" tune "$WORK/$corpus-$family.toml" --budget "$BUDGET" ${VALIDATION_BY:+--set training.validation_by=$VALIDATION_BY} --out "$WORK/$corpus-$family-tune" \
      ${FINAL:+--final $FINAL} ${HOLDOUTS:+--holdouts $HOLDOUTS} --json 2>"$raw.err" | tail -1 >"$raw.json"
    python3 - "$raw.json" "$corpus" "$family" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
best, final = result["best"], result["final"]
print(f"| {sys.argv[2]} | folio tune, {sys.argv[3]} ({result['final_model']}) | trial {best['trial']} of {result['trials']}, val acc {best['val_accuracy']:.4f} | {final['accuracy'] * 100:.2f} | {final['macro_f1']:.4f} |")
PY
  done
  [ -z "${SKIP_BASELINES:-}" ] || continue
  "$PY" bench/tune_baselines.py "${CORPORA[$corpus]}" --duration "$SECONDS_BUDGET" ${VALIDATION_BY:+--by-$VALIDATION_BY} >"$WORK/$corpus-baselines.json"
  python3 - "$WORK/$corpus-baselines.json" "$corpus" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    how = f"C = {r['C']}" if r["model"] == "tfidf+logreg" else f"autotune {r['duration']} s"
    print(f"| {sys.argv[2]} | {r['model']} | {how} | {r['accuracy'] * 100:.2f} | {r['macro_f1']:.4f} |")
PY
done
