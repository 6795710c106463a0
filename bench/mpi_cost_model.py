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

A bag model whose ranks split the table's rows (the default since 2026-12-03; its 2-rank
runs say "way": "rows") runs every micro-batch on every rank: a step of N micro-batches costs
each rank c + (N-1) r, c being one micro-batch's compute on one rank alone and r what each
further rank adds to every rank (the work not split: loading, the layers after the pooling,
the split's bookkeeping and waits), measured at 2 ranks as r = t2 - c; and per micro-batch a
ring allreduce of the pooled sums (batch x dim floats) and an allgather of the features (an
id and a weight per distinct id, at most twice the tokens). The rows updated in an epoch are
gathered once an epoch: over a corpus large enough to need several machines that is a
negligible share of the epoch, so it is left out.

    python3 bench/mpi_cost_model.py RESULTS... [--cores 2] [--alpha-us 25]
    python3 bench/mpi_cost_model.py bench/results/2026-12-02-mpi-training.jsonl
    python3 bench/mpi_cost_model.py bench/results/2026-12-02-mpi-training.jsonl bench/results/2026-12-03-mpi-bag-rows-zen3.jsonl
      (the reference LSTM of the first file, the bag model of both: split by rows wherever a
      file's 2-rank bag runs were)
"""
import argparse
import json
import statistics

parser = argparse.ArgumentParser()
parser.add_argument("results", nargs="+", help="results folders or training.jsonl files (their runs together)")
parser.add_argument("--cores", type=int, default=2, help="cores per node (the compute time divides by them, at best)")
parser.add_argument("--alpha-us", type=float, default=25.0, help="latency of one message over the network, microseconds")
args = parser.parse_args()

runs = {}
# A results folder of bench/mpi_bench.sh, or its training.jsonl kept in bench/results/.
for results in args.results:
    for line in open(results if results.endswith(".jsonl") else results + "/training.jsonl"):
        d = json.loads(line)
        runs.setdefault((d["model"], d["ranks"]), []).append(d)

# The bag model's whole table: (50 000 words + 200 000 n-gram buckets) x 100 floats, plus
# the dense layer (100 x 10 + 10).
TABLE_BYTES = {"bag": ((50_000 + 200_000) * 100 + 1_010) * 4}
NAMES = {"ref": "reference LSTM (batch 64 per rank)", "bag": "bag of n-grams (batch 32 per rank)"}

NODES = [1, 2, 4, 8, 16, 32, 64]
BAG_DIM, BAG_BATCH = 100, 32


def scaling_table(compute, tokens, step_seconds):
    """Tokens/s and efficiency by node count and link speed: a step on N nodes trains N x
    `tokens` in step_seconds(N, bytes per second); `compute` is its ideal time."""
    print("| nodes | " + " | ".join(f"{g} Gbit/s tokens/s (efficiency)" for g in (10, 25)) + " |")
    print("|---:|---:|---:|")
    for nodes in NODES:
        cells = []
        for gbit in (10, 25):
            step = step_seconds(nodes, gbit * 1e9 / 8)
            cells.append(f"{nodes * tokens / step:,.0f} ({compute / step:.0%})")
        print(f"| {nodes} | " + " | ".join(cells) + " |")


def ring(nodes, size, bandwidth, passes):
    """A ring collective moving `size` bytes: `passes` 1 for an allgather, 2 for an allreduce."""
    return 0 if nodes == 1 else passes * (nodes - 1) / nodes * size / bandwidth + passes * (nodes - 1) * args.alpha_us * 1e-6


def bag_split_by_rows(two):
    """The table above for a bag model whose ranks split the table's rows."""
    one = runs[("bag", 1)]
    c = statistics.median(d["seconds"] / d["steps"] for d in one) / args.cores
    t2 = statistics.median(d["seconds"] / d["steps"] for d in two) / args.cores
    r = max(0.0, t2 - c)
    tokens = statistics.median(d["tokens_per_second"] * d["seconds"] / d["steps"] for d in one)
    pooled, features = BAG_BATCH * BAG_DIM * 4, 2 * tokens * 8
    print(f"\n{NAMES['bag']}, rows split between the ranks: {tokens:,.0f} tokens and {c * 1000:.2f} ms of compute a "
          f"micro-batch on a {args.cores}-core node, {r * 1000:.2f} ms more a micro-batch for each further rank (measured at 2); "
          f"{pooled / 1e3:.1f} kB of pooled sums and at most {features / 1e3:.0f} kB of features a micro-batch")
    # A step: one micro-batch per rank, each with its pooled sums and features exchanged.
    scaling_table(c, tokens, lambda nodes, bandwidth: c + (nodes - 1) * r
                  + nodes * (ring(nodes, pooled, bandwidth, 2) + ring(nodes, features, bandwidth, 1)))


for model in ["ref", "bag"]:
    if (model, 1) not in runs:
        continue
    if (model, 2) in runs and all(d.get("way") == "rows" for d in runs[(model, 2)]):
        bag_split_by_rows(runs[(model, 2)])
        continue
    one = runs[(model, 1)]
    seconds_per_step = statistics.median(d["seconds"] / d["steps"] for d in one) / args.cores
    tokens_per_step = statistics.median(d["tokens_per_second"] * d["seconds"] / d["steps"] for d in one)
    bytes_two = statistics.median(d["bytes_per_step"] for d in runs[(model, 2)])
    print(f"\n{NAMES[model]}: {tokens_per_step:,.0f} tokens and {seconds_per_step * 1000:.1f} ms of compute a step "
          f"on a {args.cores}-core node; {bytes_two / 1e6:.2f} MB summed a step at 2 ranks")
    summed = lambda nodes: bytes_two if model == "ref" else min(bytes_two * nodes / 2, TABLE_BYTES[model])
    scaling_table(seconds_per_step, tokens_per_step,
                  lambda nodes, bandwidth: seconds_per_step + ring(nodes, summed(nodes), bandwidth, 2))
