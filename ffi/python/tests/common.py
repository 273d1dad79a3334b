"""Paths and vector files shared by the Python tests."""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# TOLLGATE_TEST_INSTALLED=1 runs the suite against the installed package (CI: the wheel in a
# fresh venv); otherwise against the source tree beside the tests.
INSTALLED = os.environ.get("TOLLGATE_TEST_INSTALLED") == "1"
if not INSTALLED:
    sys.path.insert(0, str(HERE.parent))

REPO = HERE.parents[2]
# ../shared beside the repository, or $TOLLGATE_SHARED_DIR when set.
SHARED = Path(os.environ["TOLLGATE_SHARED_DIR"]) if os.environ.get("TOLLGATE_SHARED_DIR") else REPO.parent / "shared"
SHARED_FIXTURES = SHARED / "fixtures" / "providers"
# The project's own provider responses (data/fixtures/providers), present in every clone.
OWN_FIXTURES = REPO / "data" / "fixtures" / "providers"
REQUIRE_SHARED = bool(os.environ.get("TOLLGATE_REQUIRE_SHARED"))


def shared_missing(path):
    """None when `path` (an input from ../shared) exists, else the reason to skip. Raises
    instead when TOLLGATE_REQUIRE_SHARED is set (CI sets it: there the input must be present)."""
    if path.exists():
        return None
    if REQUIRE_SHARED:
        raise AssertionError(f"{path} is absent and TOLLGATE_REQUIRE_SHARED is set")
    print(f"SKIPPED: {path} is absent (it lives in ../shared beside the repository)", file=sys.stderr)
    return f"{path} is absent"


def shared_or_skip(test, path):
    """Skips `test` (a unittest.TestCase) when the ../shared input `path` is absent, or fails it
    when TOLLGATE_REQUIRE_SHARED is set."""
    reason = shared_missing(path)
    if reason:
        test.skipTest(reason)


def pricing_vectors():
    """(id, vector, exact) for the hand-computed vectors of the C ABI (exact expectations)
    and the pricing golden vectors when present (reference expectations): every binding
    prices exactly these, in this order."""
    out = []
    for path, exact in ((REPO / "data" / "ffi" / "vectors.jsonl", True), (REPO / "data" / "golden" / "pricing.jsonl", False)):
        if path.exists():
            with path.open(encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if line.strip():
                        v = json.loads(line)
                        out.append((v.get("id", f"ffi-{n}"), v, exact))
    return out


def rfc3339_ms(text):
    """Epoch milliseconds of an RFC 3339 timestamp ("2025-11-02T16:49:23.5Z")."""
    import calendar
    from datetime import datetime

    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return calendar.timegm(dt.utctimetuple()) * 1000 + dt.microsecond // 1000


def within_1e9(got, want):
    """|got - want| <= want * 1e-9, exactly (Decimal), as the core's golden test."""
    from decimal import Decimal

    g, w = Decimal(got), Decimal(want)
    return abs(g - w) * 1_000_000_000 <= w


class CentsLog:
    """Writes `id<TAB>costCents<TAB>priced` lines to $TOLLGATE_CENTS_OUT/<lang>.<part>.tsv, for the
    cross-language comparison in CI."""

    def __init__(self, lang, part):
        import os

        d = os.environ.get("TOLLGATE_CENTS_OUT")
        self.f = open(os.path.join(d, f"{lang}.{part}.tsv"), "w", encoding="utf-8") if d else None

    def write(self, id_, cents, priced):
        if self.f:
            self.f.write(f"{id_}\t{cents}\t{'true' if priced else 'false'}\n")

    def close(self):
        if self.f:
            self.f.close()
