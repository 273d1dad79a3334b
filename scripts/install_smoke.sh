#!/usr/bin/env bash
# Installs every artifact the way its ecosystem does, into fresh environments outside the
# repository, and runs a smoke program in each (price an event, extract usage from a recorded
# response, track it, read the customer's margin). Each writes one line to
# $TOLLGATE_SMOKE_OUT/<lang>.json (format: docs/DECISIONS.md, Packaging);
# scripts/smoke/compare.py then requires them identical.
#
#   node  `npm pack` tarball -> `npm install ./x.tgz` in an empty project
#   go    a module zip served from a local file GOPROXY -> `go get` + `go build` in a new module
#   c     `make install PREFIX=…` -> a program built with pkg-config against that tree
#   rust  `cargo package` -> a new Cargo project depending on the packaged crate
#
# The Node, Go and C installs run with no cargo or rustc on PATH. Needs the release library
# (cargo build --release -p tollgate-ffi). usage: scripts/install_smoke.sh [node go c rust]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
langs=("$@")
[ ${#langs[@]} -gt 0 ] || langs=(node go c rust)
: "${TOLLGATE_SMOKE_OUT:=$repo/target/smoke}"
export TOLLGATE_SMOKE_OUT
mkdir -p "$TOLLGATE_SMOKE_OUT"
work=$(mktemp -d /tmp/tollgate-install.XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
body=$repo/data/smoke/anthropic_message.json
unset TOLLGATE_LIB

scripts/stage_bindings.sh >/dev/null
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

# PATH without any directory holding cargo or rustc.
nocargo=""
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] || continue
  if [ -e "$d/cargo" ] || [ -e "$d/rustc" ]; then continue; fi
  nocargo="${nocargo:+$nocargo:}$d"
done
without_rust() { env PATH="$nocargo" "$@"; }
without_rust sh -c '! command -v cargo && ! command -v rustc' >/dev/null ||
  { echo "install smoke: cargo still on the filtered PATH" >&2; exit 1; }

for lang in "${langs[@]}"; do
  rm -f "$TOLLGATE_SMOKE_OUT/$lang.json"
  case $lang in
  node)
    echo "== install smoke: npm tarball into an empty project"
    (cd ffi/node && npm pack --silent --pack-destination "$work" >/dev/null)
    tgz="$work/tollgate-engine-$version.tgz"
    tar -tzf "$tgz" | grep -x "package/lib/linux-x64/libtollgate_ffi.so" >/dev/null ||
      { echo "npm tarball lacks the compiled library" >&2; exit 1; }
    mkdir "$work/node-app"
    cp scripts/smoke/smoke.js "$work/node-app/"
    (cd "$work/node-app" && without_rust npm init -y >/dev/null &&
      without_rust npm install --no-audit --no-fund --silent "$tgz" &&
      without_rust node smoke.js "$body")
    ;;
  go)
    echo "== install smoke: Go module from a file GOPROXY into a new module"
    mod=github.com/tollgate-engine/tollgate-engine/ffi/go
    proxy="$work/goproxy"
    python3 scripts/smoke/go_module_zip.py ffi/go "$mod" "v$version" "$proxy"
    mkdir "$work/go-app"
    cp scripts/smoke/smoke.go "$work/go-app/main.go"
    (cd "$work/go-app" &&
      export GOPROXY="file://$proxy" GONOSUMDB="$mod" GONOSUMCHECK=1 GOFLAGS=-modcacherw \
        GOMODCACHE="$work/gomodcache" GOTOOLCHAIN=local &&
      without_rust go mod init example.com/smoke >/dev/null 2>&1 &&
      without_rust go get "$mod@v$version" &&
      without_rust go build -o smoke . &&
      ./smoke "$body")
    ;;
  c)
    echo "== install smoke: make install PREFIX=… and a C program built with pkg-config"
    prefix="$work/c-prefix"
    make -s -C ffi/c install PREFIX="$prefix" >/dev/null
    (cd "$work" && export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" &&
      without_rust cc -std=c11 -Wall -Wextra -Werror -o smoke-c "$repo/scripts/smoke/smoke.c" \
        $(pkg-config --cflags --libs tollgate-engine) -Wl,-rpath,"$prefix/lib" &&
      ./smoke-c "$body")
    ;;
  rust)
    echo "== install smoke: cargo package, then a new Cargo project using the packaged crate"
    cargo package --locked -p tollgate-engine --no-verify --allow-dirty --quiet
    mkdir "$work/rust-crate" "$work/rust-app"
    tar -xzf "target/package/tollgate-engine-$version.crate" -C "$work/rust-crate"
    mkdir "$work/rust-app/src"
    cp scripts/smoke/smoke.rs "$work/rust-app/src/main.rs"
    cat >"$work/rust-app/Cargo.toml" <<TOML
[package]
name = "tollgate-smoke"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
tollgate-engine = { path = "$work/rust-crate/tollgate-engine-$version" }
serde_json = "1"
TOML
    # The crate's own lock file pins what it was tested with.
    cp "$work/rust-crate/tollgate-engine-$version/Cargo.lock" "$work/rust-app/Cargo.lock"
    (cd "$work/rust-app" && CARGO_TARGET_DIR="$repo/target/smoke-rust" cargo run --quiet -- "$body")
    ;;
  *) echo "install smoke: unknown language $lang" >&2; exit 2 ;;
  esac
done
