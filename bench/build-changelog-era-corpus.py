#!/usr/bin/env python3
"""Builds a corpus of Debian changelog entries labelled by the era they were written in
(up to 2005, 2006-2011, 2012-2018, 2019-2020, 2021-2022, 2023 on), from the
`/usr/share/doc/*/changelog.Debian.gz` files of the packages installed on this machine.

Source: the Debian archive's packages, each changelog under its package's license (see
`/usr/share/doc/<package>/copyright`); the corpus is built locally by this script, never
committed. Short, terse English with version numbers, bug numbers and package names; the
label is not in the text (the date and the signature line are removed), so the classifier
must learn how packaging vocabulary drifted over thirty years (debhelper levels, `Standards-Version`,
salsa, dh-compat, Rules-Requires-Root, ...).

    python3 bench/build-changelog-era-corpus.py OUT [--doc /usr/share/doc] [--per-source 60]

Writes OUT/train/<era>/<source>/<n>.txt and OUT/test/...: every entry's body (the lines between its
heading and its ` -- ` signature), one per source package and version (binary packages of one
source share a changelog), at most --per-source entries of a source (chosen by the hash of
the version) so that no package's habits dominate an era; one source package in five wholly
in test/ (by the hash of its name), so the test split holds packages never seen in training.
A source package's folders are its group: a pipeline's `validation_by = "group"` holds out
whole source packages (in every era) from train/, as test/ does.
"""
import argparse
import collections
import glob
import gzip
import hashlib
import os
import re

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--doc", default="/usr/share/doc")
parser.add_argument("--per-source", type=int, default=60)
args = parser.parse_args()

ERAS = [(2005, "to-2005"), (2011, "2006-2011"), (2018, "2012-2018"), (2020, "2019-2020"), (2022, "2021-2022"), (9999, "2023-on")]
ENTRY = re.compile(r"^(\S+) \(([^)\s]+)\)[^\n]*\n(.*?)^ -- [^\n]*?(\d{4}) \d\d:\d\d", re.M | re.S)
digest = lambda text: hashlib.sha1(text.encode()).hexdigest()

entries = collections.defaultdict(dict)  # source -> version -> (year, body)
for path in sorted(glob.glob(os.path.join(args.doc, "*", "changelog.Debian.gz"))):
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as file:
        text = file.read()
    for match in ENTRY.finditer(text):
        source, version, body, year = match.group(1), match.group(2), match.group(3).strip(), int(match.group(4))
        if body and version not in entries[source]:
            entries[source][version] = (year, body)

counts = collections.Counter()
for source in sorted(entries):
    versions = sorted(entries[source], key=lambda version: digest(source + " " + version))[: args.per_source]
    split = "test" if int(digest(source)[:8], 16) % 5 == 0 else "train"
    for version in versions:
        year, body = entries[source][version]
        era = next(name for last, name in ERAS if year <= last)
        folder = os.path.join(args.out, split, era, source)
        os.makedirs(folder, exist_ok=True)
        counts[split, era] += 1
        with open(os.path.join(folder, f"{digest(source + ' ' + version)[:12]}.txt"), "w", encoding="utf-8") as file:
            file.write(body + "\n")
print(f"{len(entries)} source packages; " + ", ".join(f"{era}: {counts['train', era]} train, {counts['test', era]} test" for _, era in ERAS))
