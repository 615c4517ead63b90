#!/usr/bin/env python3
"""Every row of the shared fixtures' tokens.tsv through `lorweb tokenize` (the component command line
of component-io.md), ids compared exactly; the first rows of each kind also with the other ways of
naming the data (CLIP: vocab.json, OpenAI's .gz; T5: the folder). Exits 77 (skip) without fixtures.
    tokenize_cli.py LORWEB SOURCE_ROOT"""
import os
import subprocess
import sys

lorweb, root = sys.argv[1], sys.argv[2]
fixtures = os.environ.get("LORWEB_FIXTURES") or os.path.join(root, "..", "shared", "fixtures")
tsv = os.path.join(fixtures, "tokens.tsv")
if not os.path.isfile(tsv):
    print("SKIP: no ../shared/fixtures/tokens.tsv")
    sys.exit(77)
data = os.path.join(fixtures, "tokenizer_data")
paths = {"clip": [os.path.join(data, "clip"), os.path.join(data, "clip", "vocab.json"),
                  os.path.join(data, "clip", "bpe_simple_vocab_16e6.txt.gz")],
         "t5": [os.path.join(data, "t5", "spiece.model"), os.path.join(data, "t5")]}

def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"t": "\t", "n": "\n", "r": "\r"}.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)

rows = failed = 0
seen = {"clip": 0, "t5": 0}
with open(tsv, encoding="utf-8") as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            continue
        kind, text, want = parts[0], unescape(parts[1]), parts[2]
        rows += 1
        seen[kind] += 1
        for path in paths[kind] if seen[kind] <= 3 else paths[kind][:1]:
            run = subprocess.run([lorweb, "tokenize", kind, "--vocab", path, text], capture_output=True, text=True)
            got = run.stdout.strip()
            if run.returncode != 0 or got != want:
                failed += 1
                print("FAIL %s %r with %s:\n   got  %s %s\n   want %s" % (kind, text, path, got, run.stderr.strip(), want))
print("tokenize_cli: %d rows, %d failures" % (rows, failed))
sys.exit(1 if failed or not rows else 0)
