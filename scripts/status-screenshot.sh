#!/usr/bin/env bash
# The documented check that the status page renders in a real browser: syncs the simulator's
# four sources into a scratch store, pauses one (so the page shows a problem), serves the page
# and has headless Chromium (Debian's `chromium`, installed if missing) screenshot it into
# docs/status.png.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
cargo build --quiet -p dialogsync
dialogsync() { target/debug/dialogsync "$@"; }

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
wait_for() { for _ in $(seq 100); do grep -q listening "$1" 2>/dev/null && return; sleep 0.1; done; echo "no $1" >&2; exit 1; }

dialogsync simulate --listen 127.0.0.1:8491 --seed 3 --days 30 --per-day 20 --bad-ratio 0.01 --change-every 0s > "$work/sim.log" 2>&1 &
pids+=($!)
wait_for "$work/sim.log"
sed -e "s|127.0.0.1:8490|127.0.0.1:8491|" -e "s|sqlite://../dialogsync.db|sqlite://$work/status.db|" \
    -e "s|\"\.\./|\"$PWD/|g" examples/simulator.toml > "$work/dialogsync.toml"
export DIALOGSYNC_CONFIG="$work/dialogsync.toml"
dialogsync parties import http://127.0.0.1:8491/parties.csv >/dev/null
dialogsync run --once >/dev/null
dialogsync pause a2-correspondence --reason "wrong dates in summer time; correcting" >/dev/null
dialogsync serve --listen 127.0.0.1:8492 > "$work/serve.log" 2>/dev/null &
pids+=($!)
wait_for "$work/serve.log"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1250 \
  --screenshot="$PWD/docs/status.png" http://127.0.0.1:8492/status 2>/dev/null
echo "wrote docs/status.png"
