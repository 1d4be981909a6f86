#!/usr/bin/env bash
# Every test: builds the components (the end-to-end, sandbox and golden tests run the real
# .wasm files), runs the whole workspace's tests on the embedded SQLite store, then the host's
# tests again on PostgreSQL (a throw-away server on 127.0.0.1, scripts/postgres.sh; installed
# from Debian's packages when missing and running as root). Without PostgreSQL that second run
# is skipped, and says so; DIALOGSYNC_TEST_POSTGRES=URL uses a server of your own instead.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-components.sh
# spin-sdk's source (with the WIT of what Spin provides) into the cargo registry, for tests/spin.rs.
cargo fetch --quiet --manifest-path tests/spin-sdk/Cargo.toml
cargo test --workspace "$@"

# The PostgreSQL pass selects the same packages as the first (--workspace): `-p dialogsync`
# alone unifies features differently and rebuilds wasmtime, sqlx and every test binary.
if [ -n "${DIALOGSYNC_TEST_POSTGRES:-}" ]; then
  echo "== the host's tests again, on PostgreSQL at $DIALOGSYNC_TEST_POSTGRES"
  cargo test --workspace --tests "$@"
elif url=$(scripts/postgres.sh start); then
  trap 'scripts/postgres.sh stop' EXIT
  echo "== the host's tests again, on PostgreSQL at $url"
  DIALOGSYNC_TEST_POSTGRES=$url cargo test --workspace --tests "$@"
else
  echo "SKIPPED the PostgreSQL run: no PostgreSQL server could be started (see above)"
fi
