#!/usr/bin/env bash
# Bulk prediction, one sitting: `folio predict --out` against the same model in PyTorch
# (batched, torch.no_grad), Keras (model.predict) and, for the bag model, fastText's own
# predict (bench/predict_peer.py), every one reading the same JSONL and writing one JSON
# line per document; documents/s and peak RSS, medians of REPEATS runs.
#
#   bash bench/predict_bench.sh BAG_MODEL LSTM_MODEL
# The models are Folio bundles (folio run pipelines/bag-of-ngrams.toml / demo.toml).
# Corpora: the shipped corpus as JSONL (12k documents, both splits) and generated articles
# (folio synth, GENERATED documents, median GENERATED_WORDS words); the generated text is
# not the models' language (read for speed and memory, not accuracy). Folio's memory bound
# is shown by its peak RSS at 10k, 100k and GENERATED documents of the same generator.
set -euo pipefail
cd "$(dirname "$0")/.."
BAG=${1:?bag model folder}
LSTM=${2:?LSTM model folder}
REPEATS=${REPEATS:-3}
GENERATED=${GENERATED:-1000000}
GENERATED_WORDS=${GENERATED_WORDS:-60}
PEER_DOCS=${PEER_DOCS:-100000}
THREADS=${THREADS:-2}
PY=${PEERS_VENV:-$HOME/.cache/folio-peers-venv}/bin/python
WORK=${WORK:-/tmp/folio-predict-bench}
mkdir -p "$WORK"
swift build -c release --product folio >/dev/null
FOLIO=.build/release/folio

if [ ! -s "$WORK/shipped.jsonl" ]; then
  python3 - "$WORK/shipped.jsonl" <<'PY'
import json, os, sys
root = "corpora/debian-packages"
with open(sys.argv[1], "w") as out:
    for split in ["train", "test"]:
        for label in sorted(os.listdir(f"{root}/{split}")):
            for name in sorted(os.listdir(f"{root}/{split}/{label}")):
                text = open(f"{root}/{split}/{label}/{name}", encoding="utf-8", errors="replace").read()
                out.write(json.dumps({"id": f"{split}/{label}/{name}", "text": text, "label": label, "split": split}) + "\n")
PY
fi
[ -s "$WORK/generated.jsonl" ] || $FOLIO synth --out "$WORK/generated.jsonl" --articles "$GENERATED" --median-length "$GENERATED_WORDS" --test-every 0 >/dev/null
for n in 10000 100000; do
  [ -s "$WORK/generated-$n.jsonl" ] || head -n $n "$WORK/generated.jsonl" > "$WORK/generated-$n.jsonl"
done

folio_run() {  # model corpus: wall time from start to the renamed output, peak RSS
  local started seconds documents
  started=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$WORK/folio.rss" $FOLIO predict "$1" "$2" --out "$WORK/folio.jsonl" --restart --threads "$THREADS" >/dev/null 2>&1
  seconds=$(printf "%.3f" "$(echo "$(date +%s.%N) - $started" | bc)")
  documents=$(wc -l < "$WORK/folio.jsonl")
  echo "{\"framework\": \"folio\", \"documents\": $documents, \"seconds\": $seconds, \"documents_per_second\": $(echo "$documents / $seconds" | bc), \"peak_rss_mb\": $(( $(tail -1 "$WORK/folio.rss") / 1024 )), \"threads\": $THREADS}"
}

peer_run() {  # framework model corpus [extra]
  "$PY" bench/predict_peer.py --framework "$1" --model "$2" --corpus "$3" --out "$WORK/peer.jsonl" --threads "$THREADS" \
    --train "$WORK/shipped.jsonl" --work "$WORK" "${@:4}" 2>/dev/null | tail -1
}

echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(uname -r), FOLIO_ISA=${FOLIO_ISA:-auto}"
for corpus in shipped generated-$PEER_DOCS; do
  for run in $(seq "$REPEATS"); do
    echo "{\"corpus\": \"$corpus\", \"model\": \"bag\", \"run\": $run, \"result\": $(folio_run "$BAG" "$WORK/$corpus.jsonl")}"
    echo "{\"corpus\": \"$corpus\", \"model\": \"bag\", \"run\": $run, \"result\": $(peer_run fasttext "$BAG" "$WORK/$corpus.jsonl")}"
    echo "{\"corpus\": \"$corpus\", \"model\": \"bag\", \"run\": $run, \"result\": $(peer_run torch "$BAG" "$WORK/$corpus.jsonl")}"
    echo "{\"corpus\": \"$corpus\", \"model\": \"lstm\", \"run\": $run, \"result\": $(folio_run "$LSTM" "$WORK/$corpus.jsonl")}"
    echo "{\"corpus\": \"$corpus\", \"model\": \"lstm\", \"run\": $run, \"result\": $(peer_run torch "$LSTM" "$WORK/$corpus.jsonl")}"
    echo "{\"corpus\": \"$corpus\", \"model\": \"lstm\", \"run\": $run, \"result\": $(peer_run keras "$LSTM" "$WORK/$corpus.jsonl")}"
  done
done
# Memory against input size: the bag model over 10k, 100k and all generated documents.
for n in 10000 100000; do
  echo "{\"corpus\": \"generated-$n\", \"model\": \"bag\", \"run\": \"memory\", \"result\": $(folio_run "$BAG" "$WORK/generated-$n.jsonl")}"
done
echo "{\"corpus\": \"generated\", \"model\": \"bag\", \"run\": \"memory\", \"result\": $(folio_run "$BAG" "$WORK/generated.jsonl")}"
echo "{\"corpus\": \"generated\", \"model\": \"bag\", \"run\": \"memory\", \"result\": $(peer_run fasttext "$BAG" "$WORK/generated.jsonl")}"
