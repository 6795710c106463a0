#!/usr/bin/env python3
"""Builds a corpus of Python source files labelled by the PyPI package they belong to,
from a virtual environment's site-packages (by default the peers' environment that
../shared/peers/setup.sh makes: numpy, scipy, scikit-learn, torch, pandas, ...).

Source: the packages' wheels as PyPI distributes them, each under its own license (see its
`*.dist-info/LICENSE*`); the corpus is built locally by this script, never committed.
Source code rather than prose: identifiers, comments and docstrings, long documents, and
labels that share most of their vocabulary (scientific Python).

    python3 bench/build-python-sources-corpus.py OUT [--site-packages DIR] [--packages 12] [--per-label 400]

Writes OUT/train/<package>/<n>.txt and OUT/test/...: the packages with the most `.py` files
of at least 1 KB, at most --per-label files each (chosen by the hash of the path inside the
package), the first 32 KB of each, one in five in test/ (by the same hash).
"""
import argparse
import collections
import hashlib
import os

import peers_site_packages

parser = argparse.ArgumentParser()
parser.add_argument("out")
peers_site_packages.add_argument(parser)
parser.add_argument("--packages", type=int, default=12)
parser.add_argument("--per-label", type=int, default=400)
args = parser.parse_args()
peers_site_packages.checked(args.site_packages)

files = collections.defaultdict(list)
for entry in sorted(os.listdir(args.site_packages)):
    top = os.path.join(args.site_packages, entry)
    if not os.path.isdir(top) or entry.startswith(("_", ".")) or entry.endswith((".dist-info", ".egg-info", ".libs")):
        continue
    for folder, _, names in os.walk(top):
        for name in names:
            path = os.path.join(folder, name)
            if name.endswith(".py") and os.path.getsize(path) >= 1024:
                files[entry].append(os.path.relpath(path, top))

digest = lambda text: hashlib.sha1(text.encode()).hexdigest()
chosen = sorted(files, key=lambda package: (-len(files[package]), package))[: args.packages]
for package in chosen:
    for index, relative in enumerate(sorted(files[package], key=digest)[: args.per_label]):
        with open(os.path.join(args.site_packages, package, relative), encoding="utf-8", errors="replace") as source:
            text = source.read(32 * 1024)
        split = "test" if int(digest(relative)[:8], 16) % 5 == 0 else "train"
        folder = os.path.join(args.out, split, package)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{index:05d}.txt"), "w", encoding="utf-8") as file:
            file.write(text)
print(f"{len(chosen)} packages: " + ", ".join(f"{package} {min(len(files[package]), args.per_label)}" for package in chosen))
