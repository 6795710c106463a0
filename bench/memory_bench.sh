#!/usr/bin/env bash
# Predicted (folio plan) vs measured (peak RSS of folio run's training and evaluation) memory
# for several (model, micro-batch) pairs. Each pair runs in its own process on data stages
# prepared once, for a few optimizer steps (the peak is reached on the first).
# Usage: bench/memory_bench.sh WORKDIR   (release build; prints a Markdown table)
set -euo pipefail
work=${1:?work folder}
folio=${FOLIO:-.build/release/folio}
mkdir -p "$work"
here=$(cd "$(dirname "$0")/.." && pwd)

# The reference LSTM's corpus: 3000 documents of 231 Zipf-distributed words (padding to 200 always full).
if [ ! -f "$work/ref.jsonl" ]; then
  python3 - "$work/ref.jsonl" <<'PY'
import json, random, sys
random.seed(3)
words = [f"w{i}" for i in range(30000)]
weights = [1 / (i + 1) for i in range(30000)]
with open(sys.argv[1], "w") as f:
    for i in range(3000):
        label = i % 10
        tokens = random.choices(words, weights, k=230)
        f.write(json.dumps({"text": " ".join(tokens) + f" topic{label}", "label": f"c{label}",
                            "split": "test" if (i // 10) % 10 == 0 else "train"}) + "\n")
PY
fi
cp "$here/bench/ref-lstm.toml" "$work/ref-lstm.toml"

measure() {  # pipeline, name, batch, extra --set...
  local pipeline=$1 name=$2 batch=$3; shift 3
  local data="$work/data-$name"
  if [ ! -f "$data/shards/train/manifest.json" ]; then
    "$folio" run "$pipeline" --run-dir "$data" --set training.max_samples=1 "$@" > /dev/null 2>&1
  fi
  local dir="$work/$name-b$batch"
  rm -rf "$dir"; mkdir -p "$dir"
  cp -r "$data/vocabulary.tsv" "$data/shards" "$dir/"
  python3 -c "import json,sys; d=json.load(open('$data/stages.json')); d['fingerprints']={k:v for k,v in d['fingerprints'].items() if k in ('vocabulary','shards')}; json.dump(d,open('$dir/stages.json','w'))"
  local sets=(--set "loader.batch_size=$batch" --set "training.max_samples=$((batch * 3))" "$@")
  local predicted measured
  predicted=$("$folio" plan "$pipeline" --run-dir "$dir" --memory 1TB --json "${sets[@]}" | python3 -c "import json,sys; print(round(json.load(sys.stdin)['configured_peak']/1048576))")
  measured=$("$folio" run "$pipeline" --run-dir "$dir" --json "${sets[@]}" 2>/dev/null | tail -1 | python3 -c "import json,sys; print(round(json.load(sys.stdin)['peak_rss_mb']))")
  echo "| $name | $batch | $predicted | $measured | $(python3 -c "print(f'{($predicted-$measured)/$measured*100:+.1f}%')") |"
}

# The fixed part (MemoryModel.fixedBytes): a model of a few dozen parameters at micro-batch
# 1, whose other parts the estimate puts at about 3.7 MB; its measured peak minus those.
cat > "$work/tiny.toml" <<TOML
name = "tiny"
seed = 1
threads = 1
[corpus]
path = "$here/corpora/debian-packages"
[vocabulary]
max_tokens = 20
[loader]
batch_size = 1
max_length = 8
bucketing = false
[[model.layers]]
type = "embedding"
output_dim = 4
[[model.layers]]
type = "global_average_pooling1d"
[[model.layers]]
type = "dense"
units = "labels"
[training]
optimizer = "sgd"
learning_rate = 0.1
TOML

echo "| model | micro-batch | predicted MB | measured MB | error |"
echo "|---|---|---|---|---|"
measure "$work/tiny.toml" tiny 1
for batch in 32 64 128 256 512; do measure "$work/ref-lstm.toml" reference-lstm "$batch"; done
for batch in 32 256; do measure "$here/pipelines/demo.toml" demo-lstm "$batch" --set loader.bucketing=false; done
for batch in 32 512; do measure "$here/pipelines/bag-of-ngrams.toml" bag-of-ngrams "$batch" --set loader.bucketing=false; done
for batch in 64; do measure "$here/pipelines/conv.toml" conv "$batch" --set loader.bucketing=false; done

# The plan's promise: at the micro-batch it picks for a limit, the run stays under the limit.
echo
echo "| model | limit | planned micro-batch x steps | predicted MB | measured MB | under the limit |"
echo "|---|---|---|---|---|---|"
for limit in 300 600; do
  dir="$work/planned-$limit"
  rm -rf "$dir"; mkdir -p "$dir"
  cp -r "$work/data-reference-lstm/vocabulary.tsv" "$work/data-reference-lstm/shards" "$dir/"
  python3 -c "import json; d=json.load(open('$work/data-reference-lstm/stages.json')); d['fingerprints']={k:v for k,v in d['fingerprints'].items() if k in ('vocabulary','shards')}; json.dump(d,open('$dir/stages.json','w'))"
  read -r micro steps predicted < <("$folio" plan "$work/ref-lstm.toml" --run-dir "$dir" --memory "${limit}MB" --virtual-batch 512 --json \
    | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['micro_batch'], d['accumulation_steps'], round(d['predicted_peak']/1048576))")
  measured=$("$folio" run "$work/ref-lstm.toml" --run-dir "$dir" --json --set "loader.batch_size=$micro" \
    --set "training.accumulation_steps=$steps" --set "training.max_samples=$((micro * steps * 2))" 2>/dev/null | tail -1 \
    | python3 -c "import json,sys; print(round(json.load(sys.stdin)['peak_rss_mb']))")
  echo "| reference-lstm | $limit MB | $micro x $steps | $predicted | $measured | $([ "$measured" -le "$limit" ] && echo yes || echo NO) |"
done
