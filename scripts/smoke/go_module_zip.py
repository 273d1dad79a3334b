#!/usr/bin/env python3
"""Serves a Go module directory from a file-system module proxy, as a release would publish it.

usage: go_module_zip.py MODULE_DIR MODULE_PATH VERSION PROXY_DIR

Writes PROXY_DIR/<module path>/@v/{list,VERSION.info,VERSION.mod,VERSION.zip} in the layout
of the GOPROXY protocol, so `GOPROXY=file://PROXY_DIR go get MODULE_PATH@VERSION` fetches the
module exactly as it would from a proxy: every file of the module directory (the staged
prebuilt library and header included), none of the build outputs (*.test) and no nested
module (a subdirectory with its own go.mod).
"""
import json
import os
import pathlib
import sys
import zipfile


def main() -> int:
    src, module, version, proxy = sys.argv[1:5]
    src_dir = pathlib.Path(src)
    vdir = pathlib.Path(proxy, module, "@v")
    vdir.mkdir(parents=True, exist_ok=True)
    (vdir / "list").write_text(f"{version}\n")
    (vdir / f"{version}.info").write_text(json.dumps({"Version": version, "Time": "2026-01-01T00:00:00Z"}))
    (vdir / f"{version}.mod").write_bytes((src_dir / "go.mod").read_bytes())
    files = []
    for root, dirs, names in os.walk(src_dir):
        # A subdirectory with its own go.mod is another module (ffi/go/sdktest): not in this
        # module's zip, as the go command itself leaves nested modules out.
        dirs[:] = sorted(d for d in dirs if not pathlib.Path(root, d, "go.mod").exists())
        for n in sorted(names):
            p = pathlib.Path(root, n)
            rel = p.relative_to(src_dir).as_posix()
            if n.endswith(".test") or n.endswith(".out"):
                continue
            files.append((rel, p))
    if not any(rel.startswith("lib/") and rel.endswith(".a") for rel, _ in files):
        print("go_module_zip: no prebuilt library under lib/ (run scripts/stage_bindings.sh)", file=sys.stderr)
        return 1
    with zipfile.ZipFile(vdir / f"{version}.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for rel, p in files:
            z.write(p, f"{module}@{version}/{rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
