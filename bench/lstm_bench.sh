#!/usr/bin/env bash
# `folio bench lstm` against ../shared/peers/lstm_bench.py (torch, keras) at batch 32, 64,
# 128, 256 in one sitting. Each batch size runs REPEATS rounds, a round being one run of
# Folio per kernel path (ISAS: the FOLIO_ISA values to run, default every path this CPU has)
# then one of each peer, so that a host whose load drifts weighs on every side alike; the
# second table also gives the median of each round's own ratio (Folio against the faster
# peer of the same round).
# Since 2026-12-04 this model trains and predicts on Folio's own kernels alone (its weight
# gradients went to OpenBLAS before, whose kernel family then mattered: where the environment
# pins OPENBLAS_CORETYPE, `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bash bench/lstm_bench.sh`
# let OpenBLAS pick for the CPU); each JSON line still names both (blas_core, kernels).
# `torch-ftz` is PyTorch again with denormals flushed to zero (`torch.set_flush_denormal(True)`):
# on Intel CPUs PyTorch's LSTM training, left as it starts, spends over a second on some steps
# once its gradients fall into denormal floats (seen on a Xeon, 2026-12-04: 15k tokens/s
# against 70k with the flag), so the faster peer is taken over all three.
# AVX2_ONLY=1 holds both sides to AVX2 on an AVX-512 machine, for what each does on an
# AVX2-only CPU of its kind: the peers' oneDNN, PyTorch's own kernels and MKL, and Folio's
# `avx2` path (run it with ISAS=avx2; OpenBLAS, which this model no longer uses, gets its
# Haswell kernels).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PEERS="${PEERS:-$ROOT/../shared/peers}"
PY="${PEERS_VENV:-$HOME/.cache/folio-peers-venv}/bin/python"
REPEATS="${REPEATS:-3}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
# A fresh sitting: lines left in OUT by an earlier one would be summarized with its own.
: > "$OUT/all"
FOLIO="${FOLIO:-$ROOT/.build/release/folio}"
[[ -x "$FOLIO" ]] || (cd "$ROOT" && swift build -c release)
if [[ -z "${ISAS:-}" ]]; then
  ISAS=""
  for isa in avx512 avx2 generic; do FOLIO_ISA=$isa "$FOLIO" --version >/dev/null 2>&1 && ISAS="$ISAS $isa"; done
fi
grep -m1 "model name" /proc/cpuinfo; uname -r
PEER_ENV=()
if [[ "${AVX2_ONLY:-0}" == 1 ]]; then
  PEER_ENV=(ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2)
  export OPENBLAS_CORETYPE=Haswell
  echo "held to AVX2: ${PEER_ENV[*]}; OpenBLAS (which this model no longer calls): OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
fi
for batch in ${BATCHES:-32 64 128 256}; do
  for r in $(seq "$REPEATS"); do
    for isa in $ISAS; do
      FOLIO_ISA=$isa "$FOLIO" bench lstm --batch "$batch" --steps 20 --infer-warmup 3 --infer-steps 20 --json | tail -1 \
        | sed "s/^/folio-$isa $r /" >> "$OUT/all"
    done
    for peer in torch torch-ftz keras; do
      env "${PEER_ENV[@]}" timeout 600 "$PY" -c 'import runpy, sys
if sys.argv[1] == "torch-ftz":
    import torch; torch.set_flush_denormal(True)
sys.argv = [sys.argv[2], "--framework", sys.argv[1].split("-")[0]] + sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")' "$peer" "$PEERS/lstm_bench.py" --batch "$batch" 2>/dev/null | grep '^{' | tail -1 \
        | sed "s/^/$peer $r /" >> "$OUT/all" || true
    done
  done
done
python3 - "$OUT/all" <<'PY'
import json, statistics, sys
rows = {}
rounds = {}  # (batch, round) -> {who: run}
for line in open(sys.argv[1]):
    who, rest = line.split(" ", 1)
    round_, payload = rest.split(" ", 1) if not rest.startswith("{") else ("0", rest)
    d = json.loads(payload)
    rows.setdefault((who, d["batch"]), []).append(d)
    rounds.setdefault((d["batch"], round_), {})[who] = d
PEERS = sorted({who for who, _ in rows if not who.startswith("folio")})  # whatever the loop above ran
print("| who | batch | train tokens/s median (n) | infer tokens/s | peak RSS MB | train CPU util |")
print("|---|---:|---:|---:|---:|---:|")
med = lambda runs, key: statistics.median(r[key] for r in runs)
for (who, batch), runs in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    t = [r["train_tokens_per_s"] for r in runs]
    print(f"| {who} | {batch} | {statistics.median(t):,.0f} ({len(t)}) | {med(runs, 'infer_tokens_per_s'):,.0f} | "
          f"{med(runs, 'peak_rss_mb'):.0f} | {runs[0].get('train_cpu_util', '-')} |")
# Each Folio path against the faster peer, and the fraction of that path's FMA peak.
print()
def paired(who, batch, key):
    """The median over rounds of Folio's figure against the faster peer's of the same round."""
    ratios = []
    for (b, _), runs in rounds.items():
        peers = [runs[p][key] for p in PEERS if b == batch and p in runs]
        if b == batch and who in runs and peers:
            ratios.append(runs[who][key] / max(peers))
    return f"{statistics.median(ratios):.2f}x" if ratios else "-"
# Training's fraction counts the model's arithmetic (what the peers do); in brackets the
# products Folio ran (the first LSTM's input products over distinct ids; older lines lack it).
print("| path | batch | train / faster peer | infer / faster peer | paired: train, infer | train % of FMA peak (products run) | infer % of FMA peak | FMA peak GFLOP/s |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
run_fraction = lambda runs: f" ({100 * med(runs, 'train_run_peak_fraction'):.0f} %)" if all("train_run_peak_fraction" in r for r in runs) else ""
for (who, batch), runs in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1])):
    if not who.startswith("folio"):
        continue
    peers = [rows[(p, batch)] for p in PEERS if (p, batch) in rows]
    train_peer = max((med(p, "train_tokens_per_s") for p in peers), default=float("nan"))
    infer_peer = max((med(p, "infer_tokens_per_s") for p in peers), default=float("nan"))
    print(f"| {who[6:]} | {batch} | {med(runs, 'train_tokens_per_s') / train_peer:.2f}x | {med(runs, 'infer_tokens_per_s') / infer_peer:.2f}x | "
          f"{paired(who, batch, 'train_tokens_per_s')}, {paired(who, batch, 'infer_tokens_per_s')} | "
          f"{100 * med(runs, 'train_peak_fraction'):.0f} %{run_fraction(runs)} | {100 * med(runs, 'infer_peak_fraction'):.0f} % | {med(runs, 'fma_peak_gflops'):.0f} |")
PY
