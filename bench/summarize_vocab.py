#!/usr/bin/env python3
"""Prints the medians of a vocab_bench.sh sitting as markdown tables."""
import collections
import json
import os
import statistics
import sys

out = sys.argv[1]
rows = collections.defaultdict(list)
for line in open(os.path.join(out, "folio.jsonl")):
    d = json.loads(line)
    rows[d["name"]].append(d)

def med(values):
    return statistics.median(values)

print("\n| folio vocab | MB/s median (min-max) | tokens/s | peak RSS MB | budget MB | spill runs | distinct | loadavg |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name, runs in rows.items():
    mbs = [r["bytes"] / r["seconds"] / 1048576 for r in runs]
    tps = [r["tokens"] / r["seconds"] for r in runs]
    budget = name.split("memory=")[1].rstrip("MB") if "memory=" in name else "256"
    print(f"| {name} | {med(mbs):.1f} ({min(mbs):.1f}-{max(mbs):.1f}) | {med(tps)/1e6:.1f}M | "
          f"{med([r['rss_mb'] for r in runs]):.0f} | {budget} | {runs[0]['spill_runs']} | "
          f"{runs[0]['distinct_tokens']} | {','.join(r['loadavg'] for r in runs)} |")

peers = os.path.join(out, "peers.jsonl")
if os.path.exists(peers):
    prow = collections.defaultdict(list)
    for line in open(peers):
        d = json.loads(line)
        prow[(d.get("tokenizer") or d.get("which") or d.get("name"), d.get("threads"))].append(d)
    print("\n| peer (same 100 MB) | threads | encode MB/s median (min-max) | vocab training s | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for (name, threads), runs in prow.items():
        mbs = [r["mb_per_s"] for r in runs]
        train = [r["train_s"] for r in runs if r.get("train_s") is not None]
        print(f"| {name} | {threads} | {med(mbs):.1f} ({min(mbs):.1f}-{max(mbs):.1f}) | "
              f"{med(train) if train else '-'} | {med([r['peak_rss_mb'] for r in runs]):.0f} |")
