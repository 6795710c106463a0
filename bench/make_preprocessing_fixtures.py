#!/usr/bin/env python3
"""Writes Tests/FolioPreprocessingTests/Fixtures/*.json: inputs and scikit-learn's outputs
for every FolioPreprocessing stage, edge cases included. Run once with scikit-learn
(e.g. the peers' venv); the JSON files are committed, this environment is not.

  $PEERS_VENV/bin/python bench/make_preprocessing_fixtures.py
"""
import json
import os

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import LabelEncoder, MinMaxScaler, Normalizer, OneHotEncoder, StandardScaler

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "FolioPreprocessingTests", "Fixtures")
rng = np.random.default_rng(20261129)


def dense(a):
    return [[float(v) for v in row] for row in np.asarray(a)]


def write(name, payload):
    payload["generator"] = f"scikit-learn {sklearn.__version__}, numpy {np.__version__}"
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(payload, f, indent=1)


def raises(fn):
    try:
        fn()
        return False
    except ValueError:
        return True


# A matrix with a zero row, negatives, a constant column, a column far from zero.
X = rng.normal(size=(20, 6)) * [1, 10, 0.1, 1, 1, 1]
X[5, :] = 0                         # a zero row (Normalizer keeps it zero)
X[:, 2] = 3.7                       # constant column
X[:, 3] += 1e6                      # large offset: a naive variance loses digits here
Z = X.copy()
Z[7, :] = 0
X32 = X.astype(np.float32)
single = X[:1]

norm = {"input": dense(Z), "input32": dense(Z.astype(np.float32))}
for kind in ["l1", "l2", "max"]:
    norm[kind] = dense(Normalizer(norm=kind).fit_transform(Z))
    norm[kind + "_32"] = dense(Normalizer(norm=kind).fit_transform(Z.astype(np.float32)))
with_nan = Z.copy()
with_nan[4, 2] = np.nan
norm["nan_raises"] = raises(lambda: Normalizer().fit_transform(with_nan))
write("normalizer", norm)

std = {"input": dense(X), "input32": dense(X32), "single": dense(single)}
for with_mean in [True, False]:
    for with_std in [True, False]:
        s = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
        key = f"mean{int(with_mean)}_std{int(with_std)}"
        std[key] = {"transform": dense(s.transform(X)), "inverse": dense(s.inverse_transform(s.transform(X)))}
# Exact references (rational arithmetic, 50-digit square roots), independent of any
# floating-point algorithm: scikit-learn's transform rounds mean_ (about 1e6 in column 3)
# to a double, which is 1.2e-10 off there, so it is the reference only to that level.
import mpmath
from fractions import Fraction
mpmath.mp.dps = 50
n = X.shape[0]
for with_mean in [True, False]:
    for with_std in [True, False]:
        out = []
        cols = []
        for c in range(X.shape[1]):
            col = [Fraction(float(v)) for v in X[:, c]]
            mean = sum(col) / n
            var = sum((v - mean) ** 2 for v in col) / n
            eps = Fraction(np.finfo(np.float64).eps)
            constant = var <= n * eps * var + (n * mean * eps) ** 2
            scale = mpmath.mpf(1) if (constant or not with_std) else mpmath.sqrt(mpmath.mpf(var.numerator) / var.denominator)
            shift = mean if with_mean else Fraction(0)
            cols.append([float((mpmath.mpf((v - shift).numerator) / (v - shift).denominator) / scale) for v in col])
        std[f"mean{int(with_mean)}_std{int(with_std)}"] = std.get(f"mean{int(with_mean)}_std{int(with_std)}", {})
        std[f"mean{int(with_mean)}_std{int(with_std)}"]["exact"] = [list(r) for r in zip(*cols)]
s = StandardScaler().fit(X)
std["mean_"] = [float(v) for v in s.mean_]
std["var_"] = [float(v) for v in s.var_]
std["scale_"] = [float(v) for v in s.scale_]
# The Float reference is float64 arithmetic on the float32 values: scikit-learn's own
# float32 path rounds mean_ to float32 in `X -= mean_` (0.003 off at 1e6), and Folio
# computes in Double and rounds once, so its Float output should match this to 1e-6.
X32_64 = X32.astype(np.float64)
std["transform32"] = dense(StandardScaler().fit(X32_64).transform(X32_64))
s1 = StandardScaler().fit(single)
std["single_scale_"] = [float(v) for v in s1.scale_]
std["single_transform"] = dense(s1.transform(single))
write("standard_scaler", std)

mm = {"input": dense(X), "input32": dense(X32), "feature_range": [-1.0, 2.0]}
m = MinMaxScaler(feature_range=(-1, 2)).fit(X)
mm["data_min_"] = [float(v) for v in m.data_min_]
mm["data_max_"] = [float(v) for v in m.data_max_]
mm["transform"] = dense(m.transform(X))
mm["inverse"] = dense(m.inverse_transform(m.transform(X)))
# As above: scikit-learn keeps data_min_ and scale_ in float32 for float32 input.
mm["transform32"] = dense(MinMaxScaler(feature_range=(-1, 2)).fit(X32_64).transform(X32_64))
write("minmax_scaler", mm)

cats = [["b", "x"], ["a", "y"], ["ä", "x"], ["Z", "z"], ["é", "y"], ["b", "z"]]
unseen = [["a", "w"], ["q", "x"]]
oh = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(np.array(cats, dtype=object))
write("one_hot_encoder", {
    "fit": cats, "transform_input": cats + unseen,
    "categories_": [list(map(str, c)) for c in oh.categories_],
    "transform": dense(oh.transform(np.array(cats + unseen, dtype=object))),
})

labels = ["spam", "ham", "Ham", "éclair", "zebra", "ham", "Zebra", "eclair"]
le = LabelEncoder().fit(labels)
write("label_encoder", {"fit": labels, "classes_": list(map(str, le.classes_)),
                        "transform": [int(v) for v in le.transform(labels)]})

counts = rng.poisson(0.8, size=(12, 9)).astype(np.float64)
counts[3, :] = 0                    # an empty document
counts[:, 8] = 0                    # a token in no document (df = 0)
counts[:, 0] = np.maximum(counts[:, 0], 1)   # a token in every document
tf = {"counts": dense(counts)}
variants = {
    "default": {},
    "sublinear": {"sublinear_tf": True},
    "no_idf": {"use_idf": False},
    "l1": {"norm": "l1"},
    "no_norm": {"norm": None},
}
for name, kwargs in variants.items():
    t = TfidfTransformer(**kwargs).fit(counts)
    tf[name] = {"transform": dense(t.transform(counts).toarray())}
    if getattr(t, "use_idf", True):
        tf[name]["idf_"] = [float(v) for v in t.idf_]
nonzero = counts[:, :8]             # without the df = 0 column: ln(n / 0) has no value
t = TfidfTransformer(smooth_idf=False).fit(nonzero)
tf["no_smooth"] = {"counts": dense(nonzero), "idf_": [float(v) for v in t.idf_],
                   "transform": dense(t.transform(nonzero).toarray())}
write("tfidf_transformer", tf)

labels = [0, 3, 1, 1, 2]
write("to_categorical", {"labels": labels, "num_classes": 5, "output": dense(np.eye(5)[labels])})
print("fixtures written to", os.path.normpath(OUT))
