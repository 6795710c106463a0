#!/usr/bin/env bash
# Sharding and loading at scale (release build): `folio shard` MB/s and bytes per token on
# 1M generated articles; loader tokens/s at batch 64, length 200; peak RSS of a full epoch
# over 100k and over 1M articles with a 256 MB budget. Medians of REPEATS runs.
#
#   DATA=/tmp/folio-bench  REPEATS=3
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
DATA="${DATA:-/tmp/folio-bench}"
REPEATS="${REPEATS:-3}"
FOLIO="$ROOT/.build/release/folio"
[[ -x "$FOLIO" ]] || (cd "$ROOT" && swift build -c release)
mkdir -p "$DATA"
OUT="$DATA/shard-results-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
[[ -f "$DATA/synth1m.jsonl" ]] || "$FOLIO" synth --out "$DATA/synth1m.jsonl" --articles 1000000 --test-every 0
[[ -f "$DATA/synth100k.jsonl" ]] || head -n 100000 "$DATA/synth1m.jsonl" > "$DATA/synth100k.jsonl"
[[ -f "$DATA/synth1m.tsv" ]] || "$FOLIO" vocab "$DATA/synth1m.jsonl" --out "$DATA/synth1m.tsv" --max-tokens 20000 > /dev/null

rss() { /usr/bin/time -f "%M" -o "$OUT/rss" "$@"; }
for r in $(seq "$REPEATS"); do
  rss "$FOLIO" shard "$DATA/synth1m.jsonl" --vocabulary "$DATA/synth1m.tsv" --out "$DATA/shards1m" --threads 2 --json \
    | tail -1 | python3 -c "import json,sys; d=json.load(sys.stdin); d.pop('warnings'); d['rss_mb']=int(open('$OUT/rss').read())/1024; d['load']=open('/proc/loadavg').read().split()[0]; print(json.dumps(d))" >> "$OUT/shard.jsonl"
done
"$FOLIO" shard "$DATA/synth100k.jsonl" --vocabulary "$DATA/synth1m.tsv" --out "$DATA/shards100k" --threads 2 > /dev/null
for r in $(seq "$REPEATS"); do
  for n in 100k 1m; do
    rss "$FOLIO" bench loader "$DATA/shards$n" --batch 64 --max-length 200 --memory 256MB --json \
      | tail -1 | python3 -c "import json,sys; d=json.load(sys.stdin); d['set']='$n'; d['rss_mb']=int(open('$OUT/rss').read())/1024; print(json.dumps(d))" >> "$OUT/loader.jsonl"
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
s = [json.loads(l) for l in open(out + "/shard.jsonl")]
mbs = [d["text_bytes"] / d["seconds"] / 2**20 for d in s]
print(f"| folio shard, 1M articles ({s[0]['text_bytes']/2**30:.2f} GiB text, {s[0]['tokens']/1e6:.0f}M tokens), 2 threads | MB/s median (min-max) | bytes/token on disk | shards | peak RSS MB |")
print("|---|---:|---:|---:|---:|")
print(f"| n = {len(s)} | {statistics.median(mbs):.1f} ({min(mbs):.1f}-{max(mbs):.1f}) | {s[0]['bytes_on_disk']/s[0]['tokens']:.3f} | {s[0]['shards']} | {statistics.median(d['rss_mb'] for d in s):.0f} |")
l = [json.loads(x) for x in open(out + "/loader.jsonl")]
print("\n| loader, batch 64, length 200, budget 256 MB, one epoch | tokens/s median (min-max) | cells/s | padding | peak RSS MB (min-max) |")
print("|---|---:|---:|---:|---:|")
for n in ["100k", "1m"]:
    runs = [d for d in l if d["set"] == n]
    t = [d["tokens_per_s"] for d in runs]
    r = [d["rss_mb"] for d in runs]
    print(f"| {n} articles ({runs[0]['records']} records) | {statistics.median(t)/1e6:.1f}M ({min(t)/1e6:.1f}-{max(t)/1e6:.1f}M) | {statistics.median(d['cells_per_s'] for d in runs)/1e6:.1f}M | {runs[0]['padding_fraction']:.3f} | {statistics.median(r):.0f} ({min(r):.0f}-{max(r):.0f}) |")
PY
