#!/usr/bin/env python3
"""Final install-smoke check: every language's line in $TOLLGATE_SMOKE_OUT is present and
byte-identical (format: docs/DECISIONS.md, Packaging).

usage: compare.py DIR LANG [LANG...]
"""
import json
import pathlib
import sys

# The cents every smoke must get, computed by hand from the embedded rate card (LiteLLM
# 1.110.2), independently of the engine:
# - gpt-4o: $2.50/M input, $1.25/M cached input, $10/M output; tokensIn counts uncached input.
#   1200 * 2.5e-6 + 800 * 1.25e-6 + 350 * 1e-5 = 0.003 + 0.001 + 0.0035 = $0.0075 = 0.75 cents.
# - claude-sonnet-4-5: $3/M input, $0.30/M cache read, $3.75/M 5-minute cache write, $15/M
#   output: 3 * 3e-6 + 1111 * 3e-7 + 418 * 3.75e-6 + 33 * 1.5e-5
#   = 0.000009 + 0.0003333 + 0.0015675 + 0.000495 = $0.0024048 = 0.24048 cents.
# - a usage_based plan of 5 cents per event: revenue 5, margin 5 - 0.24048 = 4.75952 cents.
EXPECTED = {
    "price": "0.75",
    "extractTokens": [3, 1111, 418, 33],
    "trackCost": "0.24048",
    "trackRevenue": "5",
    "margin": "4.75952",
}


def main() -> int:
    out = pathlib.Path(sys.argv[1])
    langs = sys.argv[2:]
    if not langs:
        print("compare.py: name the languages expected", file=sys.stderr)
        return 2
    lines = {}
    for lang in langs:
        p = out / f"{lang}.json"
        if not p.is_file():
            print(f"install smoke: {lang} wrote no result ({p})", file=sys.stderr)
            return 1
        lines[lang] = p.read_bytes()
    ref_lang = langs[0]
    ref = lines[ref_lang]
    keys = list(json.loads(ref))
    if keys != ["price", "extractTokens", "trackCost", "trackRevenue", "margin"]:
        print(f"install smoke: {ref_lang}.json has keys {keys}", file=sys.stderr)
        return 1
    if json.loads(ref) != EXPECTED:
        print(f"install smoke: {ref_lang} got {ref.decode().rstrip()}, the hand calculation {EXPECTED}", file=sys.stderr)
        return 1
    bad = [lang for lang in langs if lines[lang] != ref]
    for lang in langs:
        print(f"  {lang:7} {lines[lang].decode().rstrip()}")
    if bad:
        print(f"install smoke: {', '.join(bad)} disagree with {ref_lang}", file=sys.stderr)
        return 1
    print(f"install smoke: identical cents from {', '.join(langs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
