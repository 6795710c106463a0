#!/usr/bin/env python3
"""Builds a language-identification corpus from this machine's message catalogs: the
translated messages (msgstr) of the Debian packages installed here, labelled by language.

Source: /usr/share/locale/<language>/LC_MESSAGES/*.mo; each catalog is under its package's
license (see /usr/share/doc/<package>/copyright), so the corpus is built locally by this
script and never committed. Short documents (one message, at least 20 characters), many
scripts (Latin, Cyrillic, Greek, Georgian, CJK) and close pairs (pt/pt_BR, cs/sk, sr/hr,
da/nb/sv, es/ca/gl) that only their words tell apart.

    python3 bench/build-locale-corpus.py OUT [--languages 24] [--per-label 400]

Writes OUT/train/<language>/<n>.txt and OUT/test/...: the languages with the most messages,
at most --per-label distinct messages each (chosen by the hash of the text, not by
catalog), one in five in test/ (by the same hash).
"""
import argparse
import collections
import gettext
import glob
import hashlib
import os

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--languages", type=int, default=24)
parser.add_argument("--per-label", type=int, default=400)
args = parser.parse_args()

messages = collections.defaultdict(set)
for path in sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/*.mo")):
    language = path.split("/")[4]
    try:
        catalog = gettext.GNUTranslations(open(path, "rb"))._catalog
    except Exception:
        continue  # a malformed catalog: left out
    for key, value in catalog.items():
        if isinstance(value, str) and len(value) >= 20 and value != key:
            messages[language].add(" ".join(value.split()))

digest = lambda text: hashlib.sha1(text.encode()).hexdigest()
chosen = sorted(messages, key=lambda language: (-len(messages[language]), language))[: args.languages]
for language in chosen:
    texts = sorted(messages[language], key=digest)[: args.per_label]
    for index, text in enumerate(texts):
        split = "test" if int(digest(text)[:8], 16) % 5 == 0 else "train"
        folder = os.path.join(args.out, split, language)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{index:05d}.txt"), "w", encoding="utf-8") as file:
            file.write(text + "\n")
print(f"{len(chosen)} languages: {' '.join(chosen)}")
