#!/usr/bin/env bash
# Builds every guest crate as a pure WebAssembly component into target/components/.
#
# Guests target wasm32-unknown-unknown (no WASI: nothing to import), built as cdylibs (`cargo rustc
# --crate-type cdylib`; natively the Spin components stay plain libraries, as their export names
# are no native symbols), and are wrapped into components by `xtask componentize`, which also
# checks each one's exports and that it imports no functions (the Spin components: only what Spin
# provides). Uses an installed rustup target where there is one; otherwise Debian's rustc-web
# with the std sources (`-Zbuild-std`), installed here if missing (DESIGN.md "Building the
# components here").
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=wasm32-unknown-unknown
OUT=target/components
# crate  →  what it must export (comma-separated), then the interfaces it may import functions from (none: pure)
GUESTS=(
  "a2-archived-forms dialogsync:pipeline/transformer@0.1.0"
  "a2-correspondence dialogsync:pipeline/transformer@0.1.0"
  "a3-app-instances dialogsync:pipeline/transformer@0.1.0"
  "a3-correspondence dialogsync:pipeline/transformer@0.1.0"
  "dialog-projector dialogsync:pipeline/projector@0.1.0"
  "hostile dialogsync:pipeline/transformer@0.1.0"
  "a2-dst-bug dialogsync:pipeline/transformer@0.1.0"
  "spin-tick handle-cron-event,wasi:http/incoming-handler@0.2.0 transformer projector fermyon:spin/ wasi:http/ wasi:io/ wasi:clocks/"
  "spin-status wasi:http/incoming-handler@0.2.0 fermyon:spin/ wasi:http/ wasi:io/ wasi:clocks/"
)
# Spin tick components pre-composed with their transformer and the projector (SpinKube and other
# runtimes that do not compose component dependencies): target/components/composed/.
SOURCES=(a2-archived-forms a2-correspondence a3-app-instances a3-correspondence)

if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  echo "building components with rustup's $TARGET target"
  build() { cargo rustc --quiet --profile wasm --target "$TARGET" --target-dir target/wasm --crate-type cdylib -p "$1"; }
else
  if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/rustlib/src/rust/library ]; then
    echo "installing Debian's rustc-web and rust-web-src (no rustup $TARGET target here)"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq rustc-web cargo-web rust-web-src >/dev/null
  fi
  echo "building components with Debian's $(/usr/bin/rustc --version) and -Zbuild-std"
  # rust-lld comes from the rustup toolchain when there is one.
  LLD_DIR=""
  if command -v rustc >/dev/null; then
    LLD_DIR="$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin"
  fi
  build() {
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 PATH="$LLD_DIR:$PATH" \
      /usr/bin/cargo rustc --quiet --profile wasm --target "$TARGET" --target-dir target/wasm \
      -Zbuild-std=std,panic_abort --crate-type cdylib -p "$1"
  }
fi

mkdir -p "$OUT"
for guest in "${GUESTS[@]}"; do
  read -r crate export allowed <<<"$guest"
  build "$crate"   # one crate per invocation: features of shared guest libraries never unify
  core="target/wasm/$TARGET/wasm/${crate//-/_}.wasm"
  # shellcheck disable=SC2086  # the allowed prefixes are separate arguments
  cargo run --quiet -p xtask -- componentize "$core" "$OUT/$crate.wasm" "$export" $allowed
done
mkdir -p "$OUT/composed"
for source in "${SOURCES[@]}"; do
  cargo run --quiet -p xtask -- compose-tick "$OUT/composed/tick-$source.wasm" "$OUT/spin-tick.wasm" "$OUT/$source.wasm" "$OUT/dialog-projector.wasm"
done
