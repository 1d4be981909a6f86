#!/usr/bin/env bash
# A private PostgreSQL server for the tests and benchmarks, on 127.0.0.1 only:
#
#   scripts/postgres.sh start   # installs Debian's postgresql if missing (as root), starts a
#                               # throw-away cluster, prints its URL
#   scripts/postgres.sh stop    # stops it and removes its files
#
# The cluster lives in target/postgres (owned by the `postgres` user when run as root, since
# PostgreSQL refuses to run as root) and trusts local connections: it is for tests, never data.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${DIALOGSYNC_PG_PORT:-55432}
DIR=$(pwd)/target/postgres
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

case "${1:-}" in
  start)
    if ! BIN=$(bindir); then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian's postgresql" >&2
        apt-get update -qq >&2 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        BIN=$(bindir)
      else
        echo "PostgreSQL is not installed (Debian: apt-get install postgresql)" >&2
        exit 1
      fi
    fi
    if as_owner "'$BIN/pg_ctl' -D '$DIR/data' status" >/dev/null 2>&1; then
      echo "$URL"
      exit 0
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    as_owner "'$BIN/initdb' -D '$DIR/data' -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8" >/dev/null
    # Settings for a disposable test server: no fsync, enough connections for many test hosts.
    as_owner "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/log' -w start -o \"-p $PORT -k '$DIR' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300\"" >/dev/null
    echo "$URL"
    ;;
  stop)
    if BIN=$(bindir) && [ -d "$DIR/data" ]; then
      as_owner "'$BIN/pg_ctl' -D '$DIR/data' -m fast -w stop" >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
