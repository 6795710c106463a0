#!/usr/bin/env bash
# Word vectors, one sitting: `folio embed` against gensim's Word2Vec (corpus_file mode) and
# fastText's skipgram (no subword n-grams) on the same tokens (`folio inspect --tokens`),
# the same settings (skip-gram, dim 100, window 5, negative 5, min-count 5, subsample 1e-4,
# word2vec's learning rate), 2 threads each. Corpus: this machine's English manual pages
# (bench/build-manpages-corpus.py: 20k pages, 11M tokens; built here, never committed).
#
# Speed: EPOCHS_SPEED epochs, medians of REPEATS runs: training words/s (tokens read per
# second of training; gensim's vocabulary scan and Folio's vocab and shard passes are
# timed apart, fastText's own vocabulary pass is inside its figure) and peak RSS.
# Quality: one run of EPOCHS_QUALITY epochs each, checked by bench/embed_quality.py
# (neighbour agreement between the tools; a section probe on the pages).
#
#   bash bench/embed_bench.sh          # prints JSON lines; results/DATE-embed.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-3}
EPOCHS_SPEED=${EPOCHS_SPEED:-1}
EPOCHS_QUALITY=${EPOCHS_QUALITY:-5}
THREADS=${THREADS:-2}
PY=${PEERS_VENV:-$HOME/.cache/folio-peers-venv}/bin/python
WORK=${WORK:-/tmp/folio-embed-bench}
OUT=${OUT:-bench/results/$(date +%F)-embed.jsonl}
mkdir -p "$WORK"
swift build -c release --product folio >/dev/null
FOLIO=.build/release/folio
SETTINGS=(--model skipgram --dim 100 --window 5 --negative 5 --min-count 5 --subsample 1e-4 --threads "$THREADS")

[ -s "$WORK/man.jsonl" ] || python3 bench/build-manpages-corpus.py "$WORK/man.jsonl"
if [ ! -s "$WORK/tokens.txt" ]; then
  $FOLIO vocab "$WORK/man.jsonl" --out "$WORK/vocabulary.tsv" 2>/dev/null
  $FOLIO shard "$WORK/man.jsonl" --vocabulary "$WORK/vocabulary.tsv" --out "$WORK/shards" 2>/dev/null
  $FOLIO inspect "$WORK/shards" --tokens >"$WORK/tokens.txt"
fi

cpu="$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs), family $(grep -m1 "cpu family" /proc/cpuinfo | cut -d: -f2 | xargs) model $(grep -m1 "^model[[:space:]]" /proc/cpuinfo | cut -d: -f2 | xargs), $(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo AVX2)"
: >"$WORK/runs.jsonl"
# One run: the tool's JSON line with its peak RSS (MB) and the sitting's facts added.
measure() {
  local tool=$1 epochs=$2 out=$3
  local line
  if [ "$tool" = folio ]; then
    line=$(/usr/bin/time -f "%M" -o "$WORK/rss" $FOLIO embed "$WORK/shards" --out "$out" --epochs "$epochs" "${SETTINGS[@]}" --json 2>/dev/null | tail -1)
  else
    line=$(/usr/bin/time -f "%M" -o "$WORK/rss" "$PY" bench/embed_peer.py "$tool" "$WORK/tokens.txt" "$out.vec" --epochs "$epochs" "${SETTINGS[@]}" | tail -1)
  fi
  "$PY" - "$line" "$(cat "$WORK/rss")" "$tool" "$epochs" "$cpu" <<'PY' | tee -a "$WORK/runs.jsonl"
import json, sys
line, rss, tool, epochs, cpu = sys.argv[1:]
record = json.loads(line)
print(json.dumps({"tool": tool, "epochs": int(epochs), "seconds": record["seconds"], "words_per_second": round(record["words_per_second"]),
                  "rss_mb": round(int(rss) / 1024), "mode": record.get("mode", "hogwild (lock-free)"), "kernels": record.get("kernels"),
                  "cpu": cpu}))
PY
}

for run in $(seq "$REPEATS"); do
  for tool in folio gensim fasttext; do measure "$tool" "$EPOCHS_SPEED" "$WORK/speed-$tool" >/dev/null; done
done
for tool in folio gensim fasttext; do measure "$tool" "$EPOCHS_QUALITY" "$WORK/quality-$tool" >/dev/null; done
quality=$("$PY" bench/embed_quality.py "$WORK/tokens.txt" "$WORK/man.jsonl" folio="$WORK/quality-folio.vec" gensim="$WORK/quality-gensim.vec" fasttext="$WORK/quality-fasttext.vec")

"$PY" - "$WORK/runs.jsonl" "$EPOCHS_SPEED" "$quality" <<'PY' | tee "$OUT"
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
speed_epochs = int(sys.argv[2])
for tool in ["folio", "gensim", "fasttext"]:
    mine = [r for r in runs if r["tool"] == tool and r["epochs"] == speed_epochs]
    print(json.dumps({"measure": "speed", "tool": tool, "epochs": speed_epochs, "runs": len(mine),
                      "words_per_second_median": statistics.median(r["words_per_second"] for r in mine),
                      "words_per_second_all": [r["words_per_second"] for r in mine],
                      "rss_mb_median": statistics.median(r["rss_mb"] for r in mine), "mode": mine[0]["mode"],
                      "kernels": mine[0]["kernels"], "cpu": mine[0]["cpu"]}))
print(json.dumps({"measure": "quality", **json.loads(sys.argv[3])}))
PY
