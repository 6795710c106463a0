#!/usr/bin/env python3
"""fastText (the peers' build) on the test split of a label-per-folder corpus, over a small
grid of settings, two seeds each: how the fastText model itself does on the corpus the
bag-of-ngrams pipeline is measured on. Text lowercased, "." and "," removed, as the peers'
fasttext_bench.py prepares it; training lines shuffled once (fastText reads its file in order,
and the corpus folders come sorted by label). Prints one JSON line per setting and a last line
with the best.

  $PEERS_VENV/bin/python bench/fasttext_quality.py corpora/debian-packages
"""
import json
import os
import random
import re
import sys
import tempfile

import fasttext

CLEAN = re.compile(r"[.,]")
GRID = [  # (wordNgrams, epoch, lr, dim)
    (1, 5, 0.5, 100), (2, 5, 0.5, 100), (2, 10, 0.5, 100), (1, 25, 0.5, 100), (2, 25, 0.5, 100),
    (2, 25, 1.0, 100), (2, 50, 0.5, 100), (1, 100, 1.0, 100), (2, 100, 1.0, 100), (2, 100, 0.5, 50),
    (2, 200, 1.0, 100),
]


def write(root, split, path):
    lines = []
    for label in sorted(os.listdir(os.path.join(root, split))):
        folder = os.path.join(root, split, label)
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                text = " ".join(CLEAN.sub(" ", f.read().lower()).split())
            lines.append(f"__label__{label} {text}\n")
    random.Random(1).shuffle(lines)
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(lines)


def main():
    corpus = sys.argv[1]
    with tempfile.TemporaryDirectory() as work:
        train, test = os.path.join(work, "train.txt"), os.path.join(work, "test.txt")
        write(corpus, "train", train)
        write(corpus, "test", test)
        best = None
        for ngrams, epoch, lr, dim in GRID:
            accuracies = []
            for seed in (1, 2):
                model = fasttext.train_supervised(train, epoch=epoch, lr=lr, dim=dim, wordNgrams=ngrams, thread=2, verbose=0, seed=seed)
                accuracies.append(model.test(test)[1])
            row = {"wordNgrams": ngrams, "epoch": epoch, "lr": lr, "dim": dim, "accuracy": accuracies}
            print(json.dumps(row), flush=True)
            if best is None or max(accuracies) > max(best["accuracy"]):
                best = row
        print(json.dumps({"best": best}))


if __name__ == "__main__":
    main()
