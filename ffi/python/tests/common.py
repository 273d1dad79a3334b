"""Paths and vector files shared by the Python tests."""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

REPO = HERE.parents[2]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures" / "providers"


def pricing_vectors():
    """The hand-computed vectors of the C ABI, plus the pricing golden vectors when present:
    every binding prices exactly these."""
    files = [REPO / "data" / "ffi" / "vectors.jsonl", REPO / "data" / "golden" / "pricing.jsonl"]
    out = []
    for path in files:
        if path.exists():
            with path.open(encoding="utf-8") as f:
                out.extend(json.loads(line) for line in f if line.strip())
    return out
