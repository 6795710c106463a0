#!/usr/bin/env python3
"""Checks word vectors without outside data, on the corpus they were trained on:

1. neighbour agreement: for 1000 frequent words (ranks 100-1100 among the words every
   file has; the 100 most frequent are mostly function words), the share of their 10
   nearest neighbours (cosine) that two files agree on, for every pair of files. Two
   peers trained alike agree only so much; a third that agrees with both as much as they
   agree with each other learned the same thing.
2. a probe from the corpus's own structure: each document as the mean of its words'
   unit vectors, a logistic regression predicting its label (a manual page's section),
   fitted on 4 of every 5 documents and scored on the fifth (accuracy, macro-F1). No
   setting is chosen on that fifth: the probe's settings are fixed.

    embed_quality.py TOKENS.txt LABELS.jsonl NAME=FILE.vec ...
(TOKENS.txt: `folio inspect --tokens`, one document per line, in the order of LABELS.jsonl.)
"""
import itertools
import json
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.preprocessing import StandardScaler


def read_vec(path):
    with open(path, encoding="utf-8") as f:
        count, dim = map(int, f.readline().split())
        words, rows = [], np.zeros((count, dim), dtype=np.float32)
        for index, line in enumerate(f):
            parts = line.rstrip().split(" ")
            words.append(parts[0])
            rows[index] = np.asarray(parts[1:], dtype=np.float32)
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return words, rows


def main():
    tokens_path, labels_path = sys.argv[1], sys.argv[2]
    files = dict(argument.split("=", 1) for argument in sys.argv[3:])
    vectors = {name: read_vec(path) for name, path in files.items()}
    first = next(iter(vectors.values()))[0]
    common = set(first)
    for words, _ in vectors.values():
        common &= set(words)
    order = [w for w in first if w in common]
    probe_words = order[100:1100]
    neighbours = {}
    for name, (words, rows) in vectors.items():
        index = {w: i for i, w in enumerate(words)}
        keep = np.array([index[w] for w in order])
        matrix = rows[keep]
        queries = matrix[[order.index(w) for w in probe_words]]
        similarity = queries @ matrix.T
        for q, w in enumerate(probe_words):
            similarity[q, order.index(w)] = -np.inf
        top = np.argsort(-similarity, axis=1)[:, :10]
        neighbours[name] = [set(row) for row in top]
    result = {"words_compared": len(probe_words), "agreement_at_10": {}}
    for a, b in itertools.combinations(neighbours, 2):
        overlap = np.mean([len(x & y) / 10 for x, y in zip(neighbours[a], neighbours[b])])
        result["agreement_at_10"][f"{a}~{b}"] = round(float(overlap), 3)

    labels = [json.loads(line)["label"] for line in open(labels_path, encoding="utf-8")]
    documents = [line.split() for line in open(tokens_path, encoding="utf-8")]
    assert len(labels) == len(documents), "tokens and labels differ in length"
    counts = {label: labels.count(label) for label in set(labels)}
    kept = [i for i, label in enumerate(labels) if counts[label] >= 100]
    y = np.array([labels[i] for i in kept])
    test = np.array([i % 5 == 0 for i in range(len(kept))])
    result["probe"] = {}
    for name, (words, rows) in vectors.items():
        index = {w: i for i, w in enumerate(words)}
        features = np.zeros((len(kept), rows.shape[1]), dtype=np.float32)
        for row, i in enumerate(kept):
            ids = [index[w] for w in documents[i] if w in index]
            if ids:
                features[row] = rows[ids].mean(axis=0)
        scaler = StandardScaler().fit(features[~test])
        model = LogisticRegression(max_iter=2000).fit(scaler.transform(features[~test]), y[~test])
        predicted = model.predict(scaler.transform(features[test]))
        result["probe"][name] = {"accuracy": round(float(accuracy_score(y[test], predicted)), 4),
                                 "macro_f1": round(float(f1_score(y[test], predicted, average="macro")), 4)}
    result["probe_documents"] = {"train": int((~test).sum()), "held_out": int(test.sum()), "labels": sorted(set(y.tolist()))}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
