#!/usr/bin/env python3
"""Cuts tests/fixtures/*.prom into seed files of at most 4 KiB for the fuzz
targets: whole families where they fit, a family's first lines otherwise.
Run from the repository root: python3 fuzz/seeds/split_fixtures.py"""
import glob
import os

LIMIT = 4096
OUT = "fuzz/seeds/text"

for path in sorted(glob.glob("tests/fixtures/*.prom")):
    stem = os.path.basename(path)[: -len(".prom")]
    families, cur = [], []
    for line in open(path, encoding="utf-8").read().splitlines(keepends=True):
        if line.startswith("# HELP") and cur:
            families.append(cur)
            cur = []
        cur.append(line)
    families.append(cur)
    chunks, chunk = [], ""
    for fam in families:
        text = ""
        for line in fam:
            if len(text) + len(line) > LIMIT:
                break
            text += line
        if len(chunk) + len(text) > LIMIT:
            chunks.append(chunk)
            chunk = ""
        chunk += text
    chunks.append(chunk)
    for i, c in enumerate(chunks):
        with open(f"{OUT}/{stem}_{i:02}.prom", "w", encoding="utf-8") as f:
            f.write(c)
