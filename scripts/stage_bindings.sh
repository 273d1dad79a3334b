#!/usr/bin/env bash
# Puts the compiled engine where the Node package and the Go module ship it, so `npm pack`
# and a Go module zip carry it and neither needs a Rust toolchain or a checkout to build:
#   ffi/node/lib/<node platform>-<node arch>/libtollgate_ffi.so   (+ LICENSE beside package.json)
#   ffi/go/lib/<GOOS>_<GOARCH>/libtollgate_ffi.a                  (+ ffi/go/lib/include/tollgate.h)
# These copies are build outputs (git-ignored), refreshed from target/release on every run;
# build the library first: cargo build --release -p tollgate-ffi
set -euo pipefail
cd "$(dirname "$0")/.."
rel=target/release
for f in "$rel/libtollgate_ffi.so" "$rel/libtollgate_ffi.a"; do
  [ -f "$f" ] || { echo "stage_bindings: $f missing; run: cargo build --release -p tollgate-ffi" >&2; exit 1; }
done
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) node_dir=linux-x64; go_dir=linux_amd64 ;;
  Linux-aarch64) node_dir=linux-arm64; go_dir=linux_arm64 ;;
  *) echo "stage_bindings: no packaging layout for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
rm -rf ffi/node/lib ffi/go/lib
mkdir -p "ffi/node/lib/$node_dir" "ffi/go/lib/$go_dir" ffi/go/lib/include
cp "$rel/libtollgate_ffi.so" "ffi/node/lib/$node_dir/"
cp LICENSE ffi/node/LICENSE
cp "$rel/libtollgate_ffi.a" "ffi/go/lib/$go_dir/"
cp include/tollgate.h ffi/go/lib/include/
cp LICENSE ffi/go/LICENSE
echo "staged: ffi/node/lib/$node_dir ffi/go/lib/$go_dir ffi/go/lib/include"
