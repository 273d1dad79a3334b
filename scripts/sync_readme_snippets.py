#!/usr/bin/env python3
"""Rewrites README's example snippets from the marked regions (readme:start … readme:end) of
the example files, the same extraction ffi/tests/readme.rs checks."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = [("ffi/c/example.c", "c", "### C ("), ("ffi/go/example_test.go", "go", "### Go ("),
         ("ffi/node/examples/quickstart.js", "js", "### Node ("),
         ("ffi/python/examples/quickstart.py", "python", "### Python (")]


def region(path):
    lines = (ROOT / path).read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if "readme:start" in l)
    end = next(i for i, l in enumerate(lines) if "readme:end" in l)
    body = lines[start + 1:end]
    indent = min((len(l) - len(l.lstrip()) for l in body if l.strip()), default=0)
    return "\n".join(l[indent:] for l in body)


readme = (ROOT / "README.md").read_text()
for path, fence, heading in FILES:
    at = readme.index(heading)
    m = re.compile(r"```" + fence + r"\n.*?\n```", re.S).search(readme, at)
    readme = readme[:m.start()] + f"```{fence}\n{region(path)}\n```" + readme[m.end():]
(ROOT / "README.md").write_text(readme)
