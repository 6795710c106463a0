#!/usr/bin/env python3
"""Tokens/s against node count for a data-parallel Folio run, from bench/mpi_bench.sh's
measurements (RESULTS/training.jsonl): the one-rank seconds and tokens per optimizer step
(pinned to one core; a node of C cores runs C-fold faster at best, so pass --cores) and the
bytes one rank sums per step at 2 ranks.

A step on N nodes takes compute + a ring allreduce of B bytes: each rank sends and receives
2 (N-1)/N B over the link, in 2 (N-1) messages of latency ALPHA, with no overlap with the
backward pass (Folio reduces after it). For the reference LSTM B is every parameter (the
embedding is dense); for the bag model B is the union of the rows the ranks touched, which
grows with N: bounded here by N/2 times the 2-rank union, at most the whole table.

    python3 bench/mpi_cost_model.py RESULTS [--cores 2] [--alpha-us 25]
    python3 bench/mpi_cost_model.py bench/results/2026-12-02-mpi-training.jsonl
"""
import argparse
import json
import statistics

parser = argparse.ArgumentParser()
parser.add_argument("results")
parser.add_argument("--cores", type=int, default=2, help="cores per node (the compute time divides by them, at best)")
parser.add_argument("--alpha-us", type=float, default=25.0, help="latency of one message over the network, microseconds")
args = parser.parse_args()

runs = {}
# A results folder of bench/mpi_bench.sh, or its training.jsonl kept in bench/results/.
for line in open(args.results if args.results.endswith(".jsonl") else args.results + "/training.jsonl"):
    d = json.loads(line)
    runs.setdefault((d["model"], d["ranks"]), []).append(d)

# The bag model's whole table: (50 000 words + 200 000 n-gram buckets) x 100 floats, plus
# the dense layer (100 x 10 + 10).
TABLE_BYTES = {"bag": ((50_000 + 200_000) * 100 + 1_010) * 4}
NAMES = {"ref": "reference LSTM (batch 64 per rank)", "bag": "bag of n-grams (batch 32 per rank)"}

for model in ["ref", "bag"]:
    one = runs[(model, 1)]
    seconds_per_step = statistics.median(d["seconds"] / d["steps"] for d in one) / args.cores
    tokens_per_step = statistics.median(d["tokens_per_second"] * d["seconds"] / d["steps"] for d in one)
    bytes_two = statistics.median(d["bytes_per_step"] for d in runs[(model, 2)])
    print(f"\n{NAMES[model]}: {tokens_per_step:,.0f} tokens and {seconds_per_step * 1000:.1f} ms of compute a step "
          f"on a {args.cores}-core node; {bytes_two / 1e6:.2f} MB summed a step at 2 ranks")
    print("| nodes | " + " | ".join(f"{g} Gbit/s tokens/s (efficiency)" for g in (10, 25)) + " |")
    print("|---:|---:|---:|")
    for nodes in [1, 2, 4, 8, 16, 32, 64]:
        cells = []
        for gbit in (10, 25):
            bytes_step = bytes_two if model == "ref" else min(bytes_two * nodes / 2, TABLE_BYTES[model])
            bandwidth = gbit * 1e9 / 8
            communication = 0 if nodes == 1 else 2 * (nodes - 1) / nodes * bytes_step / bandwidth + 2 * (nodes - 1) * args.alpha_us * 1e-6
            step = seconds_per_step + communication
            cells.append(f"{nodes * tokens_per_step / step:,.0f} ({seconds_per_step / step:.0%})")
        print(f"| {nodes} | " + " | ".join(cells) + " |")
