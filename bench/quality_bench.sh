#!/usr/bin/env bash
# Test-split accuracy and macro-F1 of the shipped pipelines on the shipped corpus, next to
# the TF-IDF + logistic-regression baseline (scikit-learn, ../shared/peers environment).
# Usage: bench/quality_bench.sh [RUNS_DIR]   (release build; prints a Markdown table)
set -euo pipefail
runs=${1:-runs/quality}
folio=${FOLIO:-.build/release/folio}
python=${PEERS_PYTHON:-$HOME/.cache/folio-peers-venv/bin/python}
echo "| model | accuracy % | macro-F1 | epochs | seconds |"
echo "|---|---|---|---|---|"
for pipeline in demo bag-of-ngrams conv; do
  "$folio" run "pipelines/$pipeline.toml" --run-dir "$runs/$pipeline" --json 2>/dev/null | tail -1 | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(f\"| pipelines/$pipeline.toml | {d['accuracy'] * 100:.2f} | {d['macro_f1']:.4f} | {d['epochs_run']} | {d['seconds']:.0f} |\")"
done
"$python" bench/tfidf_baseline.py corpora/debian-packages | python3 -c "
import json, sys
d = json.load(sys.stdin)
print(f\"| TF-IDF + logistic regression (bench/tfidf_baseline.py) | {d['accuracy'] * 100:.2f} | {d['macro_f1']:.4f} | | |\")"
