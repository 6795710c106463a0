#!/usr/bin/env python3
"""scikit-learn twin of `folio bench preprocessing`: StandardScaler partial_fit over
float32 batches, transform of each, and L2 normalize of each; one JSON line."""
import argparse
import json
import resource
import time

import numpy as np
from sklearn.preprocessing import StandardScaler, normalize

ap = argparse.ArgumentParser()
ap.add_argument("--rows", type=int, default=1_000_000)
ap.add_argument("--columns", type=int, default=300)
ap.add_argument("--batch", type=int, default=10_000)
ap.add_argument("--pool", type=int, default=10)
a = ap.parse_args()
rng = np.random.default_rng(42)
offsets = np.arange(a.columns, dtype=np.float32)
pool = [(rng.random((a.batch, a.columns), dtype=np.float32) * 4 - 2) + offsets for _ in range(a.pool)]
steps = a.rows // a.batch

scaler = StandardScaler()
t = time.perf_counter()
for i in range(steps):
    scaler.partial_fit(pool[i % a.pool])
fit_s = time.perf_counter() - t
t = time.perf_counter()
for i in range(steps):
    scaler.transform(pool[i % a.pool])
transform_s = time.perf_counter() - t
t = time.perf_counter()
for i in range(steps):
    normalize(pool[i % a.pool], norm="l2")
normalize_s = time.perf_counter() - t
n = steps * a.batch
print(json.dumps({"rows": n, "columns": a.columns, "batch": a.batch, "partial_fit_rows_per_s": n / fit_s,
                  "transform_rows_per_s": n / transform_s, "normalize_rows_per_s": n / normalize_s,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
