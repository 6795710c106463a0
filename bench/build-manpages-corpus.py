#!/usr/bin/env python3
"""Builds a corpus of this machine's English manual pages: one JSONL line per page,
{"text": ..., "label": "<section>", "id": "<name>"}, roff requests and escapes stripped.

Source: /usr/share/man/man[1-8] of the Debian packages installed here; each page is under
its package's license (see /usr/share/doc/<package>/copyright), so the corpus is built
locally by this script and never committed. Pages that only point to another
(`.so other.1`) and pages under 200 bytes of text are left out.

    python3 bench/build-manpages-corpus.py OUT.jsonl [--max-pages N]
    python3 bench/build-manpages-corpus.py --folder OUT [--per-label 1500]

With --folder, a labelled corpus in the label-per-folder layout (OUT/train/<section>/<page>.txt,
OUT/test/...): sections with at least 150 pages, at most --per-label pages each (chosen by
the hash of the page's name, not alphabetically), one page in five in test/ (by the same
hash): manual pages by section, long documents, for the quality benchmarks.
"""
import hashlib
import gzip
import json
import os
import re
import sys

TEXT_MACROS = {"B", "I", "BR", "BI", "IR", "RB", "RI", "IB", "SB", "SM", "SH", "SS", "TP", "IP", "HP", "Nm", "Nd", "Xr",
               "Fn", "Fa", "Ar", "Fl", "Op", "Pa", "Dv", "Er", "Ev", "Sh", "Ss", "It", "Em", "Sy", "Cm", "Ic", "Va", "Ft", "Li"}
ESCAPES = re.compile(r"\\f(\(..|\[[^\]]*\]|.)|\\s[+-]?\d+|\\\(..|\\\[[^\]]*\]|\\\*(\(..|\[[^\]]*\]|.)|\\[-&e|^%0 ]|\\.")


def page_text(raw):
    out = []
    for line in raw.splitlines():
        if line.startswith(".\\\"") or line.startswith("'\\\""):
            continue
        if line.startswith(".") or line.startswith("'"):
            parts = line[1:].split(None, 1)
            if not parts or parts[0] not in TEXT_MACROS or len(parts) < 2:
                continue
            line = parts[1].replace('"', "")
        out.append(ESCAPES.sub(lambda m: "-" if m.group(0) == "\\-" else " ", line))
    return " ".join(" ".join(out).split())


def write_folder(root, per_label):
    pages = {}
    for line in open(root + ".jsonl", encoding="utf-8"):
        page = json.loads(line)
        pages.setdefault(page["label"], []).append(page)
    for section, items in sorted(pages.items()):
        if len(items) < 150:
            continue
        items.sort(key=lambda page: hashlib.md5(page["id"].encode()).hexdigest())
        for page in items[:per_label]:
            digest = hashlib.md5(page["id"].encode()).digest()
            split = "test" if digest[-1] % 5 == 0 else "train"
            folder = os.path.join(root, split, "man" + section)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, page["id"].replace("/", "_") + ".txt"), "w", encoding="utf-8") as f:
                f.write(page["text"])


def main():
    if sys.argv[1] == "--folder":
        root = sys.argv[2]
        per_label = int(sys.argv[sys.argv.index("--per-label") + 1]) if "--per-label" in sys.argv else 1500
        os.makedirs(os.path.dirname(os.path.abspath(root)), exist_ok=True)
        sys.argv = [sys.argv[0], root + ".jsonl"]
        main()
        write_folder(root, per_label)
        return
    out = sys.argv[1]
    limit = int(sys.argv[sys.argv.index("--max-pages") + 1]) if "--max-pages" in sys.argv else None
    pages = 0
    with open(out + ".part", "w", encoding="utf-8") as sink:
        for section in "12345678":
            folder = f"/usr/share/man/man{section}"
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                path = os.path.join(folder, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                opener = gzip.open if name.endswith(".gz") else open
                try:
                    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
                        raw = f.read()
                except OSError:
                    continue
                if raw.lstrip().startswith(".so "):
                    continue
                text = page_text(raw)
                if len(text) < 200:
                    continue
                sink.write(json.dumps({"text": text, "label": section, "id": name.removesuffix(".gz")}, ensure_ascii=False) + "\n")
                pages += 1
                if limit and pages >= limit:
                    break
    os.replace(out + ".part", out)
    print(f"{pages} pages written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
