#!/usr/bin/env bash
# folio-serve under wrk on loopback against the same model in PyTorch behind Flask +
# gunicorn (bench/serve_peer.py), one sitting: 2 wrk threads, 64 connections, 30 s, one
# text of 50-300 words per request (from the shipped corpus), REPEATS runs each,
# alternating; requests/s, p50/p99 latency, the server's peak RSS.
#
#   bash bench/serve_bench.sh MODEL_FOLDER
# Needs: a release build of folio-serve, wrk (apt-get install wrk), the peers' venv with
# flask and gunicorn (../shared/peers/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:?model folder}
REPEATS=${REPEATS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-30}
PY=${PEERS_VENV:-$HOME/.cache/folio-peers-venv}/bin
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"
PORT_FOLIO=18080
PORT_PEER=18081
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
swift build -c release --product folio-serve >/dev/null

# Request bodies: descriptions from the shipped corpus joined to 50-300 words, fixed seed.
python3 - "$WORK/bodies.lua" <<'PY'
import json, os, random, sys
random.seed(7)
root = "corpora/debian-packages/test"
words = []
for label in sorted(os.listdir(root)):
    for name in sorted(os.listdir(os.path.join(root, label)))[:40]:
        words.append(open(os.path.join(root, label, name), encoding="utf-8").read().split())
bodies = []
for _ in range(200):
    target, text = random.randint(50, 300), []
    while len(text) < target:
        text += random.choice(words)
    bodies.append(json.dumps({"texts": [" ".join(text[:target])], "top_k": 3}))
with open(sys.argv[1], "w") as f:
    f.write("bodies = {" + ",".join(json.dumps(b) for b in bodies) + "}\n")
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
    f.write("counter = 0\nrequest = function()\n  counter = counter + 1\n"
            "  return wrk.format(nil, '/v1/predict', nil, bodies[(counter % #bodies) + 1])\nend\n")
PY

peak_rss_kb() {  # the process and its children (gunicorn's workers), summed VmHWM
  local total=0
  for pid in "$@" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null || echo 0)))
  done
  echo $total
}

wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/v1/predict" && return 0; sleep 0.2; done; return 1; }

measure() {  # name port pid
  wrk -t2 -c64 -d5s -s "$WORK/bodies.lua" "http://127.0.0.1:$2" >/dev/null  # warm-up
  local out
  out=$(wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/bodies.lua" "http://127.0.0.1:$2")
  local rps p50 p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  echo "{\"server\": \"$1\", \"requests_per_second\": $rps, \"p50\": \"$p50\", \"p99\": \"$p99\", \"peak_rss_mb\": $(( $(peak_rss_kb "$3") / 1024 )), \"errors\": \"$errors\"}"
}

echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel path ${FOLIO_ISA:-auto}, model $MODEL"
for run in $(seq "$REPEATS"); do
  .build/release/folio-serve "$MODEL" --port $PORT_FOLIO --log-level warning >"$WORK/folio.out" 2>&1 &
  pid=$!
  wait_port $PORT_FOLIO
  measure folio-serve $PORT_FOLIO $pid
  kill -TERM $pid; wait $pid || true

  PEER_MODEL="$MODEL" "$PY/gunicorn" -w 2 -b 127.0.0.1:$PORT_PEER --chdir bench --log-level warning serve_peer:app >"$WORK/peer.out" 2>&1 &
  pid=$!
  wait_port $PORT_PEER
  measure flask-gunicorn-torch $PORT_PEER $pid
  kill -TERM $pid; wait $pid || true
done
