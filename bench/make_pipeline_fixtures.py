#!/usr/bin/env python3
"""Writes Tests/FolioPipelineTests/Fixtures/tfidf_weighting.json: documents of token ids and
what scikit-learn's TfidfVectorizer(sublinear_tf=True) makes of them, the reference for
FolioPipeline's TFIDFWeighting. Ids are words to scikit-learn ("t7"), so an id no training
document holds is outside its vocabulary, as Folio leaves it out. Run once with
scikit-learn (e.g. the peers' venv); the JSON file is committed, this environment is not.

  $PEERS_VENV/bin/python bench/make_pipeline_fixtures.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "FolioPipelineTests", "Fixtures")
rng = np.random.default_rng(20261201)
INPUT_DIM = 16  # ids 0 and 1 (padding, <oov>) never occur in training documents, nor 13-15

train = [[int(i) for i in rng.integers(2, 13, size=rng.integers(1, 12))] for _ in range(9)]
train.append([5, 5, 5, 5, 5, 5, 5])  # a count of 7: sublinear tf 1 + ln 7
test = [[1, 3, 3, 14, 7, 2], [15, 1], [4, 12, 12, 12, 9, 4, 3, 8, 10, 11, 6]]


def text(ids):
    return " ".join(f"t{i}" for i in ids)


def rows(matrix, vocabulary):
    names = {index: int(word[1:]) for word, index in vocabulary.items()}
    matrix = matrix.tocsr()
    return [sorted([[names[j], float(v)] for j, v in zip(matrix[r].indices, matrix[r].data)]) for r in range(matrix.shape[0])]


raw = TfidfVectorizer(sublinear_tf=True, norm=None, token_pattern=r"\S+").fit([text(d) for d in train])
l2 = TfidfVectorizer(sublinear_tf=True, token_pattern=r"\S+").fit([text(d) for d in train])
idf = [0.0] * INPUT_DIM
for word, index in raw.vocabulary_.items():
    idf[int(word[1:])] = float(raw.idf_[index])
payload = {
    "input_dim": INPUT_DIM, "train": train, "test": test, "idf": idf,
    "test_weights": rows(raw.transform([text(d) for d in test]), raw.vocabulary_),
    "test_l2": rows(l2.transform([text(d) for d in test]), l2.vocabulary_),
    "generator": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}",
}
with open(os.path.join(OUT, "tfidf_weighting.json"), "w") as f:
    json.dump(payload, f, indent=1)
print("fixture written to", os.path.normpath(OUT))
