#!/usr/bin/env bash
# Inference of the reference LSTM with and without the projected embedding, against PyTorch,
# interleaved round by round (Folio with, Folio without, PyTorch) so that a host whose speed
# drifts during the sitting weighs on all three alike. Medians over ROUNDS; 2 threads.
#
#   ROUNDS=5 BATCHES="64 256" bash bench/lstm_infer_ab.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PEERS="${PEERS:-$ROOT/../shared/peers}"
PY="${PEERS_VENV:-$HOME/.cache/folio-peers-venv}/bin/python"
FOLIO="${FOLIO:-$ROOT/.build/release/folio}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
[[ -x "$FOLIO" ]] || (cd "$ROOT" && swift build -c release)
grep -m1 "model name" /proc/cpuinfo; uname -r; echo "FOLIO_ISA=${FOLIO_ISA:-auto}"
for batch in ${BATCHES:-64 256}; do
  for r in $(seq "${ROUNDS:-5}"); do
    "$FOLIO" bench lstm --batch "$batch" --steps 3 --infer-warmup 3 --infer-steps 20 --json | tail -1 | sed "s/^/projected /" >> "$OUT/all"
    "$FOLIO" bench lstm --batch "$batch" --steps 3 --infer-warmup 3 --infer-steps 20 --no-projected-embedding --json | tail -1 \
      | sed "s/^/unprojected /" >> "$OUT/all"
    timeout 600 "$PY" "$PEERS/lstm_bench.py" --framework torch --batch "$batch" --steps 5 2>/dev/null | grep '^{' | tail -1 | sed "s/^/torch /" >> "$OUT/all" || true
  done
done
python3 - "$OUT/all" <<'PY'
import json, statistics, sys
runs = [(who, json.loads(payload)) for who, payload in (line.split(" ", 1) for line in open(sys.argv[1]))]
rows = {}
for who, d in runs: rows.setdefault((d["batch"], who), []).append(d["infer_tokens_per_s"])
print("| batch | Folio, projected embedding | Folio, every product | PyTorch | projected / PyTorch | every product / PyTorch |")
print("|---:|---:|---:|---:|---:|---:|")
for batch in sorted({b for b, _ in rows}):
    m = {who: statistics.median(rows.get((batch, who), [float("nan")])) for who in ("projected", "unprojected", "torch")}
    spread = lambda who: f"{min(rows[(batch, who)]):,.0f}-{max(rows[(batch, who)]):,.0f}"
    print(f"| {batch} | {m['projected']:,.0f} ({spread('projected')}) | {m['unprojected']:,.0f} ({spread('unprojected')}) | "
          f"{m['torch']:,.0f} ({spread('torch')}) | {m['projected'] / m['torch']:.2f}x | {m['unprojected'] / m['torch']:.2f}x |")
PY
