#!/usr/bin/env python3
"""Rebuilds corpora/debian-packages from the apt index files of this Debian machine.

Each document is one package's English description (synopsis + long description, from
the Translation-en index), labelled with the package's Section (from Packages), in the
label-per-folder layout with train/ and test/ splits. See corpora/README.md.

Run as root on Debian 12 (bookworm): it re-enables apt's English translation index
when an apt.conf.d file disabled it, runs `apt-get update`, then reads the indexes
with `apt-get indextargets` and `/usr/lib/apt/apt-helper cat-file`.

Deterministic: packages whose descriptions are identical (same Description-md5) are
one document (the first package name in byte order); the split is decided by the md5,
so the same archive state gives the same corpus.
"""
import argparse
import collections
import hashlib
import os
import shutil
import subprocess
import sys

LANGUAGES_CONF = "/etc/apt/apt.conf.d/zz-folio-languages"


def enable_translations():
    out = subprocess.run(["apt-get", "indextargets"], capture_output=True, text=True, check=True).stdout
    if "Translation-en" in out:
        return
    with open(LANGUAGES_CONF, "w") as f:
        # A later file: '#clear' drops the 'none' set by minimal images, then asks for en.
        f.write('#clear Acquire::Languages;\nAcquire::Languages { "en"; };\n')
    subprocess.run(["apt-get", "update", "-qq"], check=True)


def index_files(identifier):
    out = subprocess.run(["apt-get", "indextargets", f"Identifier: {identifier}"],
                         capture_output=True, text=True, check=True).stdout
    files = [line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Filename: ")]
    # Only the main archive ('dists_bookworm_'), not -updates or -security: one state.
    return [f for f in files if "_dists_bookworm_main_" in f]


def stanzas(path):
    text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path],
                          capture_output=True, check=True).stdout.decode("utf-8", "replace")
    for block in text.split("\n\n"):
        fields = {}
        key = None
        for line in block.split("\n"):
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if fields:
            yield fields


def description_text(raw):
    lines = raw.split("\n")
    body = []
    for line in lines[1:]:
        line = line[1:] if line.startswith(" ") else line
        body.append("" if line.strip() == "." else line)
    return (lines[0].strip() + "\n\n" + "\n".join(body).strip() + "\n").replace("\n\n\n", "\n\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "debian-packages"))
    ap.add_argument("--classes", type=int, default=10, help="the most frequent sections kept")
    ap.add_argument("--per-class", type=int, default=1200, help="documents kept per section at most")
    ap.add_argument("--min-chars", type=int, default=200, help="shorter descriptions are left out")
    ap.add_argument("--test-percent", type=int, default=20)
    args = ap.parse_args()

    enable_translations()
    sections = {}
    for path in index_files("Packages"):
        for st in stanzas(path):
            if "Package" in st and "Section" in st and "Description-md5" in st:
                section = st["Section"].split("/")[-1]
                sections.setdefault((st["Package"], st["Description-md5"]), section)
    texts = {}
    for path in index_files("Translations"):
        for st in stanzas(path):
            if "Package" in st and "Description-md5" in st and "Description-en" in st:
                texts[(st["Package"], st["Description-md5"])] = description_text(st["Description-en"])
    if not texts:
        sys.exit("no Translation-en entries found: is the English translation index enabled?")

    by_md5 = {}
    for (package, md5), text in sorted(texts.items()):
        if (package, md5) in sections and md5 not in by_md5 and len(text) >= args.min_chars:
            by_md5[md5] = (package, sections[(package, md5)], text)
    counts = collections.Counter(section for _, section, _ in by_md5.values())
    kept = sorted(s for s, _ in counts.most_common(args.classes))

    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    per_class = collections.Counter()
    written = collections.Counter()
    total_bytes = 0
    # Order by md5 so that the per-class cap keeps an arbitrary but fixed sample.
    for md5, (package, section, text) in sorted(by_md5.items()):
        if section not in kept or per_class[section] >= args.per_class:
            continue
        per_class[section] += 1
        split = "test" if int(hashlib.sha256(md5.encode()).hexdigest(), 16) % 100 < args.test_percent else "train"
        folder = os.path.join(args.out, split, section)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, package + ".txt"), "w", encoding="utf-8") as f:
            f.write(text)
        written[(split, section)] += 1
        total_bytes += len(text.encode())
    print(f"{sum(written.values())} documents, {total_bytes} bytes, {len(kept)} sections")
    for section in kept:
        print(f"  {section:12} train {written[('train', section)]:5}  test {written[('test', section)]:5}")


if __name__ == "__main__":
    main()
