#!/usr/bin/env bash
# Quick start: builds the components and the host (installing the component toolchain if
# needed), then, into the embedded SQLite store dialogsync.db:
#   1. backfills the sample Altinn 3 instances in examples/ and prints one dialog;
#   2. starts the source simulator (all four legacy sources, 30 days of history) and runs the
#      sync engine over it until the history is migrated, then prints the status page.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/debug/dialogsync
# QUICKSTART_PREBUILT=1: the components and the binary are built already (the tests run it so).
if [ -z "${QUICKSTART_PREBUILT:-}" ]; then
  scripts/build-components.sh
  cargo build --quiet -p dialogsync
fi
dialogsync() { "$bin" "$@"; }

[ -f dialogsync.toml ] || dialogsync init
# One of the samples names only a legacy party id: the register says who it is.
dialogsync parties import examples/parties.csv
dialogsync backfill --source a3-app-instances
echo "--- one of the dialogs (Dialogporten's create shape):"
dialogsync dialogs search --source a3-app-instances --limit 1

echo "--- the sync engine against the source simulator (examples/simulator.toml):"
# The binary itself in the background (not the shell function: its $! would be a subshell,
# and killing that would leave the simulator running).
"$bin" simulate --listen 127.0.0.1:8490 --seed 1 --days 30 --per-day 20 > .dialogsync-simulator.log 2>&1 &
sim=$!
trap 'kill $sim 2>/dev/null || true; wait $sim 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening .dialogsync-simulator.log 2>/dev/null && break; sleep 0.2; done
grep -q listening .dialogsync-simulator.log || { cat .dialogsync-simulator.log; echo "the simulator did not start (is port 8490 taken?)"; exit 1; }
dialogsync parties import http://127.0.0.1:8490/parties.csv
dialogsync --config examples/simulator.toml run --once
dialogsync --config examples/simulator.toml status
