#!/usr/bin/env python3
"""Checks that every route to the engine produced identical cents for the shared vectors:
the core called from Rust (rust.tsv) and the C ABI from C, Go, Node and Python.

Usage: compare_cents.py DIR   (DIR holds the <route>.<part>.tsv files the suites wrote when
TOLLGATE_CENTS_OUT=DIR was set). Exit status 1 on any difference or missing route."""

import sys
from pathlib import Path

ROUTES = ["rust", "c", "go", "node", "python"]
# vectors: data/ffi + data/golden; fixtures: ../shared/fixtures/providers line items (empty
# files when ../shared is absent).
PARTS = ["vectors", "fixtures"]
# Further routes compared with rust when their files are present: the Python native
# extension's price() (written by the suite run against the installed wheel).
OPTIONAL = {"python-fast": ["vectors"]}


def main() -> int:
    d = Path(sys.argv[1])
    bad = 0
    for part in PARTS:
        tables = {}
        for r in ROUTES:
            f = d / f"{r}.{part}.tsv"
            if not f.exists():
                print(f"cents: {f} is missing (did the {r} suite run with TOLLGATE_CENTS_OUT set?)")
                return 1
            tables[r] = f.read_text(encoding="utf-8").splitlines()
        for r, parts in OPTIONAL.items():
            f = d / f"{r}.{part}.tsv"
            if part in parts and f.exists():
                tables[r] = f.read_text(encoding="utf-8").splitlines()
        ref = tables["rust"]
        for r in [r for r in tables if r != "rust"]:
            rows = tables[r]
            if len(rows) != len(ref):
                print(f"cents: {part}: {r} has {len(rows)} rows, rust has {len(ref)}")
                bad += 1
                continue
            diffs = [(a, b) for a, b in zip(ref, rows) if a != b]
            for a, b in diffs[:5]:
                print(f"cents: {part}: rust {a!r} != {r} {b!r}")
            bad += bool(diffs)
        if not bad:
            print(f"cents: {', '.join(tables)} agree on all {len(ref)} {part} rows")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
