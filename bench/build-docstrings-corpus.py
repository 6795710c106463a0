#!/usr/bin/env python3
"""Builds a corpus of API docstrings labelled by the subpackage that documents them
(`scipy.stats`, `sklearn.linear_model`, `torch.nn`, ...), from a virtual environment's
site-packages (by default the peers' environment that ../shared/peers/setup.sh makes).

Source: the packages' wheels as PyPI distributes them, each under its own license (see its
`*.dist-info/LICENSE*`); the corpus is built locally by this script, never committed.
Technical English prose of short to medium length (parameter lists, examples, formulae),
many labels, several of them close neighbours (`scipy.signal` and `scipy.ndimage`,
`sklearn.linear_model` and `sklearn.svm`). The text is read with `ast`, nothing is imported.

    python3 bench/build-docstrings-corpus.py OUT [--site-packages DIR] [--labels 20] [--per-label 600] [--unlabeled FILE]

Writes OUT/train/<label>/<module>/<n>.txt and OUT/test/...: docstrings of modules, classes and
functions of at least 20 words, outside test folders and private subpackages, labelled by
the first two parts of the module's name (without `python` and `src`); the --labels labels with the most docstrings, at
most --per-label each (chosen by the hash of the qualified name), duplicates dropped, one
in five in test/ (by the hash of the module's name, so a module is wholly in train or test).
A module's folder is its group: a pipeline's `validation_by = "group"` holds out whole modules
from train/, as test/ does.

--unlabeled FILE also writes unlabeled text of the same kind as JSONL (`{"text": ...}`, for a
pipeline's `[embed] corpora`): the docstrings of every subpackage not among the labels, and
those of the labels' train-side modules beyond --per-label. Nothing from a test/ module goes
there, so vectors learned from it have never read the test split's text.
"""
import argparse
import ast
import collections
import hashlib
import json
import os

import peers_site_packages

parser = argparse.ArgumentParser()
parser.add_argument("out")
peers_site_packages.add_argument(parser)
parser.add_argument("--labels", type=int, default=20)
parser.add_argument("--per-label", type=int, default=600)
parser.add_argument("--unlabeled")
args = parser.parse_args()
peers_site_packages.checked(args.site_packages)

digest = lambda text: hashlib.sha1(text.encode()).hexdigest()
docs = collections.defaultdict(list)  # label -> [(qualified name, module, text)]
seen = set()
for folder, subfolders, names in os.walk(args.site_packages):
    relative = os.path.relpath(folder, args.site_packages)
    parts = [] if relative == "." else relative.split(os.sep)
    subfolders[:] = sorted(f for f in subfolders if not f.startswith((".", "__")) and f not in ("tests", "test", "testing")
                           and not f.endswith((".dist-info", ".egg-info", ".libs")))
    # `tensorflow/python/...` and `keras/src/...` hold a whole package: look one level deeper.
    named = [part for part in parts if part not in ("python", "src")]
    if len(named) < 2 or any(part.startswith("_") for part in named[:2]):
        continue
    label = ".".join(named[:2])
    for name in sorted(names):
        if not name.endswith(".py") or name.startswith("test_"):
            continue
        module = ".".join(parts + [name[:-3]])
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as source:
                tree = ast.parse(source.read())
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            text = ast.get_docstring(node)
            if not text or len(text.split()) < 20 or text in seen:
                continue
            seen.add(text)
            docs[label].append((f"{module}.{getattr(node, 'name', '')}", module, text))

chosen = sorted(docs, key=lambda label: (-len(docs[label]), label))[: args.labels]
ordered = {label: sorted(docs[label], key=lambda doc: digest(doc[0])) for label in docs}
in_test = lambda module: int(digest(module)[:8], 16) % 5 == 0
if args.unlabeled:
    unlabeled = []
    for label in sorted(docs):
        spare = ordered[label][args.per_label :] if label in chosen else ordered[label]
        unlabeled += [text for _, module, text in spare if label not in chosen or not in_test(module)]
    with open(args.unlabeled, "w", encoding="utf-8") as sink:
        for text in unlabeled:
            sink.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    print(f"{len(unlabeled)} unlabeled docstrings in {args.unlabeled}")
for label in chosen:
    for index, (qualified, module, text) in enumerate(ordered[label][: args.per_label]):
        split = "test" if in_test(module) else "train"
        folder = os.path.join(args.out, split, label, module)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{index:05d}.txt"), "w", encoding="utf-8") as file:
            file.write(text + "\n")
print(f"{len(chosen)} labels: " + ", ".join(f"{label} {min(len(docs[label]), args.per_label)}" for label in chosen))
