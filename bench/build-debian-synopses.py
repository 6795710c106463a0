#!/usr/bin/env python3
"""An unlabeled corpus of the shipped corpus's kind: the one-line synopses (Description
fields) of every Debian package in this machine's apt `Packages` indexes that is NOT in
corpora/debian-packages (neither split), one JSONL line each, {"text": ...} without a
label. Word vectors can learn from it without seeing a word of the test split.

Source and license: the Debian archive's package metadata (Packages indexes of the apt
sources configured here), each description under its package's license; built locally,
never committed.

    python3 bench/build-debian-synopses.py OUT.jsonl
"""
import json
import os
import subprocess
import sys


def main():
    out = sys.argv[1]
    corpus = "corpora/debian-packages"
    shipped = set()
    for split in ("train", "test"):
        for label in os.listdir(os.path.join(corpus, split)):
            shipped.update(name.removesuffix(".txt") for name in os.listdir(os.path.join(corpus, split, label)))
    listing = subprocess.run(["apt-get", "indextargets", "Identifier: Packages"], capture_output=True, text=True, check=True).stdout
    files = [line.split(": ", 1)[1] for line in listing.splitlines() if line.startswith("Filename: ")]
    seen, written = set(), 0
    with open(out + ".part", "w", encoding="utf-8") as sink:
        for path in sorted(files):
            text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], capture_output=True, text=True, check=True).stdout
            for stanza in text.split("\n\n"):
                fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" "))
                name, description = fields.get("Package"), fields.get("Description")
                if not name or not description or name in shipped or name in seen:
                    continue
                seen.add(name)
                sink.write(json.dumps({"text": description}, ensure_ascii=False) + "\n")
                written += 1
    os.replace(out + ".part", out)
    print(f"{written} synopses ({len(shipped)} shipped packages left out) written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
