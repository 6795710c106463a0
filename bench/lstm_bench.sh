#!/usr/bin/env bash
# `folio bench lstm` against ../shared/peers/lstm_bench.py (torch, keras) at batch 32, 64,
# 128, 256 in one sitting. Folio runs REPEATS times per size and kernel path (ISAS: the
# FOLIO_ISA values to run, default every path this CPU has), the peers PEER_REPEATS times.
# OpenBLAS's kernel family matters for the weight-gradient GEMMs (Folio's own kernels do the
# rest): where the environment pins OPENBLAS_CORETYPE (some environments set Haswell, for older
# OpenBLAS builds), run it as `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bash bench/lstm_bench.sh`
# to let OpenBLAS pick for the CPU; each JSON line names the kernels used (blas_core, kernels).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PEERS="${PEERS:-$ROOT/../shared/peers}"
PY="${PEERS_VENV:-$HOME/.cache/folio-peers-venv}/bin/python"
REPEATS="${REPEATS:-3}"
PEER_REPEATS="${PEER_REPEATS:-1}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
FOLIO="${FOLIO:-$ROOT/.build/release/folio}"
[[ -x "$FOLIO" ]] || (cd "$ROOT" && swift build -c release)
if [[ -z "${ISAS:-}" ]]; then
  ISAS=""
  for isa in avx512 avx2 generic; do FOLIO_ISA=$isa "$FOLIO" --version >/dev/null 2>&1 && ISAS="$ISAS $isa"; done
fi
grep -m1 "model name" /proc/cpuinfo; uname -r
for batch in ${BATCHES:-32 64 128 256}; do
  for isa in $ISAS; do
    for r in $(seq "$REPEATS"); do
      FOLIO_ISA=$isa "$FOLIO" bench lstm --batch "$batch" --steps 20 --infer-warmup 3 --infer-steps 20 --json | tail -1 | sed "s/^/folio-$isa /" >> "$OUT/all"
    done
  done
  for r in $(seq "$PEER_REPEATS"); do
    for framework in torch keras; do
      timeout 600 "$PY" "$PEERS/lstm_bench.py" --framework "$framework" --batch "$batch" 2>/dev/null | grep '^{' | tail -1 \
        | sed "s/^/$framework /" >> "$OUT/all" || true
    done
  done
done
python3 - "$OUT/all" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    who, payload = line.split(" ", 1)
    d = json.loads(payload)
    rows.setdefault((who, d["batch"]), []).append(d)
print("| who | batch | train tokens/s median (n) | infer tokens/s | peak RSS MB | train CPU util |")
print("|---|---:|---:|---:|---:|---:|")
med = lambda runs, key: statistics.median(r[key] for r in runs)
for (who, batch), runs in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    t = [r["train_tokens_per_s"] for r in runs]
    print(f"| {who} | {batch} | {statistics.median(t):,.0f} ({len(t)}) | {med(runs, 'infer_tokens_per_s'):,.0f} | "
          f"{med(runs, 'peak_rss_mb'):.0f} | {runs[0].get('train_cpu_util', '-')} |")
# Each Folio path against the faster peer, and the fraction of that path's FMA peak.
print()
print("| path | batch | train / faster peer | infer / faster peer | train % of FMA peak | infer % of FMA peak | FMA peak GFLOP/s |")
print("|---|---:|---:|---:|---:|---:|---:|")
for (who, batch), runs in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1])):
    if not who.startswith("folio"):
        continue
    peers = [rows[(p, batch)] for p in ("torch", "keras") if (p, batch) in rows]
    train_peer = max((med(p, "train_tokens_per_s") for p in peers), default=float("nan"))
    infer_peer = max((med(p, "infer_tokens_per_s") for p in peers), default=float("nan"))
    print(f"| {who[6:]} | {batch} | {med(runs, 'train_tokens_per_s') / train_peer:.2f}x | {med(runs, 'infer_tokens_per_s') / infer_peer:.2f}x | "
          f"{100 * med(runs, 'train_peak_fraction'):.0f} % | {100 * med(runs, 'infer_peak_fraction'):.0f} % | {med(runs, 'fma_peak_gflops'):.0f} |")
PY
