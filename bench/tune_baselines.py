#!/usr/bin/env python3
"""The baselines `folio tune` is measured against, on a label-per-folder corpus with train/
and test/ splits, both choosing their settings on a validation split (one document in ten
of train/, by a fixed seed) and reading test/ once at the end:

- TF-IDF + logistic regression (scikit-learn; TfidfVectorizer(max_features=20000,
  sublinear_tf=True) as bench/tfidf_baseline.py), C chosen on validation from
  0.25 ... 64, then refitted on all of train/;
- fastText with `autotuneValidationFile` for DURATION seconds (its `-autotune-validation`),
  the text lowercased and "." and "," removed as bench/fasttext_quality.py prepares it.

    $PEERS_VENV/bin/python bench/tune_baselines.py CORPUS [--duration 600] [--by-group]
Prints one JSON line per baseline.

--by-group: the validation part is instead exactly the documents a Folio pipeline with
`validation_by = "group"` (and validation_split 0.1) holds out: whole groups (the folders
below a label folder: a module, a source package), chosen by Folio's hash, so that every
model validates on the same documents, as unseen groups as the test split's.
"""
import json
import os
import random
import re
import sys
import tempfile
import time

import fasttext
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from tfidf_baseline import read, read_with_groups  # the same corpus reading as the untuned baseline

CLEAN = re.compile(r"[.,]")
MASK = (1 << 64) - 1


def folio_holds_out(key, fraction=0.1):
    """Folio's document holdout (FolioPipeline/DocumentHoldout.swift): FNV-1a 64 over the
    seed's little-endian bytes and the key, one SplitMix64 step, the top 53 bits below
    `fraction`."""
    state = 0xCBF29CE484222325
    for byte in (0x7661_6C69_6461_7465).to_bytes(8, "little") + key.encode():
        state = ((state ^ byte) * 0x100000001B3) & MASK
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    z ^= z >> 31
    return (z >> 11) * 2.0**-53 < fraction


def main():
    corpus = sys.argv[1]
    duration = int(sys.argv[sys.argv.index("--duration") + 1]) if "--duration" in sys.argv else 600
    texts, labels, groups = read_with_groups(os.path.join(corpus, "train"))
    test_texts, test_labels = read(os.path.join(corpus, "test"))
    order = list(range(len(texts)))
    random.Random(1).shuffle(order)
    if "--by-group" in sys.argv:
        base = os.path.normpath(corpus)
        held = {i for i, (group, path) in enumerate(groups) if folio_holds_out(group if group is not None else path[len(base):])}
    else:
        held = set(order[: len(order) // 10])
    fit = [i for i in order if i not in held]
    valid = [i for i in order if i in held]

    start = time.perf_counter()
    vectorizer = TfidfVectorizer(max_features=20000, sublinear_tf=True).fit([texts[i] for i in fit])
    X_fit, X_valid = vectorizer.transform([texts[i] for i in fit]), vectorizer.transform([texts[i] for i in valid])
    scores = {}
    for c in [0.25, 1, 4, 16, 64]:
        model = LogisticRegression(C=c, max_iter=2000).fit(X_fit, [labels[i] for i in fit])
        scores[c] = accuracy_score([labels[i] for i in valid], model.predict(X_valid))
    best_c = max(scores, key=lambda c: (scores[c], -c))
    vectorizer = TfidfVectorizer(max_features=20000, sublinear_tf=True).fit(texts)
    model = LogisticRegression(C=best_c, max_iter=2000).fit(vectorizer.transform(texts), labels)
    predicted = model.predict(vectorizer.transform(test_texts))
    print(json.dumps({"model": "tfidf+logreg", "C": best_c, "val_accuracy": round(scores[best_c], 4),
                      "accuracy": round(accuracy_score(test_labels, predicted), 4),
                      "macro_f1": round(f1_score(test_labels, predicted, average="macro"), 4),
                      "seconds": round(time.perf_counter() - start, 1)}), flush=True)

    with tempfile.TemporaryDirectory() as work:
        def write(path, indices, source_texts, source_labels):
            with open(path, "w", encoding="utf-8") as f:
                for i in indices:
                    words = CLEAN.sub(" ", source_texts[i].lower()).split()
                    f.write(f"__label__{source_labels[i]} {' '.join(words)}\n")
        write(f"{work}/fit.txt", fit, texts, labels)
        write(f"{work}/valid.txt", valid, texts, labels)
        start = time.perf_counter()
        model = fasttext.train_supervised(input=f"{work}/fit.txt", autotuneValidationFile=f"{work}/valid.txt",
                                          autotuneDuration=duration, verbose=0, thread=2)
        seconds = time.perf_counter() - start
        predicted = [model.predict(CLEAN.sub(" ", t.lower()).replace("\n", " "))[0][0].removeprefix("__label__") for t in test_texts]
        print(json.dumps({"model": "fasttext-autotune", "duration": duration,
                          "accuracy": round(accuracy_score(test_labels, predicted), 4),
                          "macro_f1": round(f1_score(test_labels, predicted, average="macro"), 4),
                          "settings": {k: getattr(model.f.getArgs(), k) for k in ["epoch", "lr", "dim", "wordNgrams", "minn", "maxn", "bucket", "loss"]
                                       if hasattr(model.f.getArgs(), k)} if hasattr(model, "f") else None,
                          "seconds": round(seconds, 1)}, default=str), flush=True)


if __name__ == "__main__":
    main()
