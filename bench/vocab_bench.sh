#!/usr/bin/env bash
# `folio vocab` (tokenize + count) throughput and peak RSS, release build, with the peer
# tokenizers of ../shared/peers measured in the same sitting.
#
#   DATA=/tmp/folio-bench  where generated corpora go (1 GB JSONL + a high-cardinality one)
#   REPEATS=3              runs per configuration; medians are printed
#   PEERS_VENV=...         the peers' venv (../shared/peers/setup.sh); SKIP_PEERS=1 to skip
#
# Figures: MB/s of input text (JSONL bytes read) on 1 and 2 threads over the 1 GB corpus;
# peak RSS (ru_maxrss) against --memory on a corpus with ~10M distinct tokens, where the
# counts must spill; the vocabularies of all memory budgets must be byte-identical.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PEERS="${PEERS:-$ROOT/../shared/peers}"
PEERS_VENV="${PEERS_VENV:-$HOME/.cache/folio-peers-venv}"
DATA="${DATA:-/tmp/folio-bench}"
REPEATS="${REPEATS:-3}"
FOLIO="$ROOT/.build/release/folio"
OUT="$DATA/results-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

[[ -x "$FOLIO" ]] || (cd "$ROOT" && swift build -c release)
BIG="$DATA/g1g/corpus.jsonl"
if [[ ! -f "$BIG" ]]; then
  echo "generating the 1 GB corpus (730k articles, ~2 min)..."
  python3 "$PEERS/gen_corpus.py" --out "$DATA/g1g" -n 730000 --test-every 1000000 --no-dir
fi
SLICE="$DATA/c100.jsonl"   # the first ~100 MB, as the peers tokenize
[[ -f "$SLICE" ]] || head -c 100000000 "$BIG" | head -n -1 > "$SLICE"
WIDE="$DATA/wide.jsonl"    # many distinct tokens: counts cannot stay in memory
if [[ ! -f "$WIDE" ]]; then
  python3 - "$WIDE" <<'PY'
import json, random, sys
random.seed(1)
letters = "abcdefghijklmnopqrstuvwxyz"
with open(sys.argv[1], "w") as f:
    for i in range(200_000):
        words = ["".join(random.choice(letters) for _ in range(random.randint(5, 9))) for _ in range(120)]
        f.write(json.dumps({"text": " ".join(words), "label": str(i % 10)}) + "\n")
PY
fi

run() {  # run NAME ARGS...: one folio vocab run, appends a JSON line with rss_mb
  local name=$1; shift
  local rss
  /usr/bin/time -f "%M" -o "$OUT/time.txt" "$FOLIO" vocab "$@" --json > "$OUT/last.json" 2>/dev/null
  rss=$(cat "$OUT/time.txt")
  python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); d.pop('warnings'); d['name']=sys.argv[2]; d['rss_mb']=int(sys.argv[3])/1024; d['loadavg']=open('/proc/loadavg').read().split()[0]; print(json.dumps(d))" \
    "$OUT/last.json" "$name" "$rss" >> "$OUT/folio.jsonl"
}

echo "folio: $REPEATS runs per configuration -> $OUT/folio.jsonl"
for r in $(seq "$REPEATS"); do
  for t in 1 2; do
    run "1GB threads=$t" "$BIG" --out "$OUT/v-1g-$t.tsv" --threads "$t" --memory 256MB --max-tokens 20000
    run "100MB threads=$t" "$SLICE" --out "$OUT/v-100m-$t.tsv" --threads "$t" --memory 256MB --max-tokens 20000
  done
  for m in 16 64 256; do
    run "wide memory=${m}MB" "$WIDE" --out "$OUT/v-wide-$m.tsv" --threads 2 --memory "${m}MB"
  done
done
cmp "$OUT/v-1g-1.tsv" "$OUT/v-1g-2.tsv" && echo "1 GB: 1 and 2 threads give identical vocabularies"
cmp "$OUT/v-wide-16.tsv" "$OUT/v-wide-256.tsv" && cmp "$OUT/v-wide-64.tsv" "$OUT/v-wide-256.tsv" \
  && echo "wide: 16, 64 and 256 MB budgets give identical vocabularies"

if [[ "${SKIP_PEERS:-0}" != 1 && -x "$PEERS_VENV/bin/python" ]]; then
  echo "peers: tokenize_bench.py on the same 100 MB, $REPEATS runs -> $OUT/peers.jsonl"
  for r in $(seq "$REPEATS"); do
    "$PEERS_VENV/bin/python" "$PEERS/tokenize_bench.py" --corpus "$SLICE" --mb 100 --which keras,hf-ws \
      2>/dev/null | grep '^{' >> "$OUT/peers.jsonl" || true
  done
fi
python3 "$HERE/summarize_vocab.py" "$OUT"
