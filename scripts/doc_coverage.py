#!/usr/bin/env python3
"""Checks that a documentation move lost nothing: every non-trivial line of an earlier
README (given as a git revision, default the parent of the restructuring) appears in
README.md, ARCHITECTURE.md or docs/*.md. Lines are compared after normalizing: heading
marks, link targets and surrounding whitespace are ignored. Exit 1 lists what is missing."""
import glob
import re
import subprocess
import sys


def norm(line):
    line = line.strip()
    line = re.sub(r"^#+\s*", "", line)
    line = re.sub(r"\]\([^)]*\)", "]()", line)
    return line


def trivial(n):
    return len(n) < 4 or re.fullmatch(r"[-|`\s…]*", n) is not None


rev = sys.argv[1] if len(sys.argv) > 1 else "5a6cff4"
old = subprocess.run(["git", "show", f"{rev}:README.md"], check=True, capture_output=True, text=True).stdout
new = set()
for path in ["README.md", "ARCHITECTURE.md", *sorted(glob.glob("docs/*.md"))]:
    with open(path, encoding="utf-8") as f:
        new.update(norm(l) for l in f)
lines = [(i + 1, l) for i, l in enumerate(old.splitlines()) if not trivial(norm(l))]
missing = [(i, l) for i, l in lines if norm(l) not in new]
for i, l in missing:
    print(f"README.md@{rev}:{i}: {l[:120]}")
print(f"{len(lines) - len(missing)} of {len(lines)} non-trivial lines found", file=sys.stderr)
sys.exit(1 if missing else 0)
