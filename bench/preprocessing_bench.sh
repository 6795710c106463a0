#!/usr/bin/env bash
# FolioPreprocessing vs scikit-learn in one sitting: StandardScaler partialFit + transform
# and L2 normalize over 1M x 300 Float rows (batches of 10k). Medians of REPEATS runs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PY="${PEERS_VENV:-$HOME/.cache/folio-peers-venv}/bin/python"
REPEATS="${REPEATS:-3}"
[[ -x "$ROOT/.build/release/folio" ]] || (cd "$ROOT" && swift build -c release)
OUT=$(mktemp -d)
for r in $(seq "$REPEATS"); do
  "$ROOT/.build/release/folio" bench preprocessing --json | tail -1 | sed 's/^/folio /' >> "$OUT/all"
  # One BLAS thread for numpy, like Folio's single-threaded stages.
  OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$PY" "$HERE/preprocessing_peer.py" | sed 's/^/sklearn /' >> "$OUT/all"
done
python3 - "$OUT/all" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    who, payload = line.split(" ", 1)
    rows.setdefault(who, []).append(json.loads(payload))
print("| implementation | partialFit rows/s | transform rows/s | L2 normalize rows/s | peak RSS MB |")
print("|---|---:|---:|---:|---:|")
for who, runs in rows.items():
    cell = lambda k: f"{statistics.median(r[k] for r in runs)/1e6:.2f}M ({min(r[k] for r in runs)/1e6:.2f}-{max(r[k] for r in runs)/1e6:.2f})"
    print(f"| {who} | {cell('partial_fit_rows_per_s')} | {cell('transform_rows_per_s')} | {cell('normalize_rows_per_s')} | {statistics.median(r['peak_rss_mb'] for r in runs):.0f} |")
PY
