#!/usr/bin/env bash
# Quick start: builds the components and the host (installing the component toolchain if
# needed), writes dialogsync.toml if there is none, then backfills the sample Altinn 3
# instances in examples/ into the embedded SQLite store (dialogsync.db) and prints three dialogs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-components.sh
cargo build --quiet -p dialogsync
dialogsync() { target/debug/dialogsync "$@"; }

[ -f dialogsync.toml ] || dialogsync init
# One of the samples names only a legacy party id: the register says who it is.
dialogsync parties import examples/parties.csv
dialogsync backfill --source a3-app-instances
echo "--- three of the dialogs (Dialogporten's create shape):"
dialogsync dialogs search --limit 3
