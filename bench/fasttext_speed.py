#!/usr/bin/env python3
"""fastText's supervised training speed on one thread, beside `bench/bag_speed_bench.sh`
(the shipped bag pipeline, one process x 1 thread): the same corpus's training split prepared
as bench/fasttext_quality.py prepares it, dim 100, wordNgrams 2, bucket 200000 (the
pipeline's), EPOCHS epochs, REPEATS runs; words a second = the file's words x epochs over the
whole `train_supervised` call (its dictionary pass included). Run it bound to the core the
bag benchmark uses (`taskset -c 0`). Prints one JSON line.

  taskset -c 0 $PEERS_VENV/bin/python bench/fasttext_speed.py corpora/debian-packages [EPOCHS] [REPEATS]
"""
import json
import os
import statistics
import sys
import tempfile
import time

import fasttext

from fasttext_quality import write


def main():
    corpus = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    with tempfile.TemporaryDirectory() as work:
        train = os.path.join(work, "train.txt")
        write(corpus, "train", train)
        with open(train, encoding="utf-8") as lines:
            words = sum(len(line.split()) - 1 for line in lines)  # less the label
        runs = []
        for seed in range(1, repeats + 1):
            started = time.perf_counter()
            fasttext.train_supervised(train, dim=100, wordNgrams=2, bucket=200000, epoch=epochs, lr=0.5, thread=1, verbose=0, seed=seed)
            runs.append(words * epochs / (time.perf_counter() - started))
    print(json.dumps({"peer": "fasttext", "words_per_epoch": words, "epochs": epochs, "threads": 1,
                      "words_per_s": [round(run) for run in runs], "median": round(statistics.median(runs))}))


if __name__ == "__main__":
    main()
