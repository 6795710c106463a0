#!/usr/bin/env bash
# Runs every fuzz target (or those named) for FUZZ_SECONDS each, one after another, from
# the committed seeds plus what earlier runs found (.build-fuzz/corpus), and prints one
# line per target: executions, coverage (edges), features, crashes. A crash's input is
# kept under .build-fuzz/crashes/TARGET/ and the script exits 1.
# Usage: Fuzz/run.sh [TARGET...]   (from the repository root; `make fuzz` builds first)
set -u
seconds=${FUZZ_SECONDS:-60}
bin=.build-fuzz/release
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(jsonl utf8 tokenizer shard manifest vocabulary safetensors checkpoint pipeline set bundle)
status=0
# Swift's own crash handler would hide the sanitizer's report; leaks in a dependency are
# suppressed with the reasons given in Fuzz/lsan.supp.
export SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=$PWD/Fuzz/lsan.supp
printf '%-12s %8s %12s %8s %8s %8s\n' target seconds executions cov ft crashes
for name in "${targets[@]}"; do
  corpus=.build-fuzz/corpus/$name crashes=.build-fuzz/crashes/$name log=.build-fuzz/logs/$name.log
  mkdir -p "$corpus" "$crashes" .build-fuzz/logs
  # -malloc_limit_mb: one allocation beyond it is a crash (a size read from the input
  # that nothing bounded); -timeout: one input running longer is a hang.
  # TOMLKit leaks on every pipeline read (Fuzz/lsan.supp): a leak check after each input
  # would find it each time and slow those targets 100-fold, so they run without one.
  leaks=1
  case $name in pipeline|set) leaks=0 ;; esac
  "$bin/fuzz-$name" "$corpus" "Fuzz/Seeds/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=512 -max_len=65536 -detect_leaks=$leaks -print_final_stats=1 -artifact_prefix="$crashes/" >"$log" 2>&1
  code=$?
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  features=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  found=$(find "$crashes" -type f | wc -l)
  printf '%-12s %8s %12s %8s %8s %8s\n' "$name" "$seconds" "${executions:-?}" "${coverage:-?}" "${features:-?}" "$found"
  if [ $code -ne 0 ]; then status=1; grep -m3 -E 'ERROR|Fatal|precondition|SUMMARY' "$log" | sed 's/^/    /'; fi
done
exit $status
