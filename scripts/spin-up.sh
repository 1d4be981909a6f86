#!/usr/bin/env bash
# The Spin demo (docs/deploy-spin.md): builds the components and the dialogsync binary, makes
# sure Spin has its cron trigger plugin, starts the source simulator on 127.0.0.1:8490 (the
# addresses spin.toml defaults to), imports its party register into Spin's SQLite database, runs
# `spin up` on the repository's spin.toml with a week of history, ticks each source once at
# once (then the cron trigger does, every 5 minutes). Ctrl-C stops everything.
#
#   scripts/spin-up.sh [--plugin FILE] [SPIN-UP-ARGS…]      e.g. --variable tick_token=SECRET
#
# SPIN_UP_LISTEN is Spin's address (default 127.0.0.1:3000).
# SPIN names the Spin CLI (default: `spin` on PATH). A missing cron plugin is installed from
# --plugin FILE (a plugin manifest .json, or the plugin's trigger-cron-VERSION-linux-amd64.tar.gz),
# else from Spin's plugin registry (which needs the network). The store is Spin's default SQLite
# database, .spin/sqlite_db.db: `dialogsync status --store sqlite://.spin/sqlite_db.db` reads it.
set -euo pipefail
cd "$(dirname "$0")/.."
spin=${SPIN:-spin}
plugin=""
if [ "${1:-}" = "--plugin" ]; then plugin=$2; shift 2; fi
command -v "$spin" >/dev/null || { echo "no Spin CLI: install Spin 4.0.x (https://spinframework.dev), or say SPIN=PATH" >&2; exit 1; }

if ! "$spin" plugins list --installed 2>/dev/null | grep -q '^trigger-cron '; then
  case "$plugin" in
    "")
      echo "installing the trigger-cron plugin from Spin's registry"
      "$spin" plugins update
      "$spin" plugins install trigger-cron --yes ;;
    *.json) "$spin" plugins install --file "$plugin" --yes ;;
    *.tar.gz)
      # A manifest naming the local file, as the registry's would name its download.
      version=$(basename "$plugin" | sed -n 's/^trigger-cron-\([0-9.]*\)-.*/\1/p')
      [ -n "$version" ] || { echo "$plugin: expected trigger-cron-VERSION-linux-amd64.tar.gz" >&2; exit 1; }
      manifest=$(mktemp --suffix=.json)
      cat > "$manifest" <<JSON
{ "name": "trigger-cron", "description": "A Spin trigger for Cron events", "version": "$version",
  "homepage": "https://github.com/spinframework/spin-trigger-cron", "license": "Apache-2.0", "spinCompatibility": ">=4.0",
  "packages": [ { "os": "linux", "arch": "amd64", "url": "file://$(realpath "$plugin")", "sha256": "$(sha256sum "$plugin" | cut -d' ' -f1)" } ] }
JSON
      "$spin" plugins install --file "$manifest" --yes
      rm -f "$manifest" ;;
    *) echo "--plugin $plugin: a plugin manifest (.json) or the plugin's .tar.gz" >&2; exit 1 ;;
  esac
fi

bin=target/debug/dialogsync
# SPIN_UP_PREBUILT=1: the components and the binary are built already (the tests run it so).
if [ -z "${SPIN_UP_PREBUILT:-}" ]; then
  scripts/build-components.sh
  cargo build --quiet -p dialogsync
fi

"$bin" simulate --listen 127.0.0.1:8490 --seed 1 --days 7 --per-day 20 > .spin-simulator.log 2>&1 &
sim=$!
ticker=""
trap 'kill $sim $ticker 2>/dev/null || true; wait $sim 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening .spin-simulator.log 2>/dev/null && break; sleep 0.2; done
grep -q listening .spin-simulator.log || { cat .spin-simulator.log; echo "the simulator did not start (is port 8490 taken?)" >&2; exit 1; }

# Spin's database, made by the host's migrator (the ticks accept it), with the register in it.
mkdir -p .spin
"$bin" --store sqlite://.spin/sqlite_db.db parties import http://127.0.0.1:8490/parties.csv

listen=${SPIN_UP_LISTEN:-127.0.0.1:3000}
# Once Spin answers, a first tick of every source (the cron trigger's first is up to 5 minutes away).
(
  for _ in $(seq 300); do curl -sf "http://$listen/healthz" >/dev/null && break; sleep 0.2; done
  for source in a2-archived-forms a2-correspondence a3-app-instances a3-correspondence; do
    curl -sf -X POST "http://$listen/tick/$source" >/dev/null || echo "the first tick of $source failed: see http://$listen/status.md" >&2
  done
  echo "dialogsync on Spin at http://$listen: /status.md, /status, /healthz, POST /tick/SOURCE; the cron trigger ticks every source every 5 minutes. Ctrl-C stops."
) &
ticker=$!
# In the foreground, so Ctrl-C reaches it (and the trigger processes it starts).
# The week in one historic window: the first tick migrates it (at most max_pages pages of page_size).
"$spin" up -f spin.toml --listen "$listen" --variable back_to="$(date -u -d '7 days ago' +%F)" --variable window_days=8 "$@"
