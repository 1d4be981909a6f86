#!/usr/bin/env bash
# Every test: builds the components (the end-to-end, sandbox and golden tests run the real
# .wasm files), then the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-components.sh
cargo test --workspace "$@"
