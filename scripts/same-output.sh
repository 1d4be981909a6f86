#!/usr/bin/env bash
# The backfill's output as one digest, to show a change to the pipeline's speed changed nothing it
# writes. RECORDS generated records (the bench's data: four sources, a quarter each, seeds 7–10,
# 2016–2025, 0.1 % malformed) are backfilled into a fresh SQLite store at a fixed DIALOGSYNC_NOW;
# the digest covers every dialog as `dialogs search --limit 0` prints it (id and document, in
# Dialogporten's create shape), every dead letter and each source's summary counts.
#
#   scripts/same-output.sh [RECORDS] [BIN]     # default 200000, target/release/dialogsync
#
# Prints the digest, and compares it with tests/output/backfill-RECORDS.sha256 where that file
# is (the digest of the commit it names): exit 1 when they differ.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-200000}
bin=$(realpath "${2:-target/release/dialogsync}")
[ -x "$bin" ] || { echo "no $bin: build it first (cargo build --release; scripts/build-components.sh)" >&2; exit 2; }
expected=$PWD/tests/output/backfill-$records.sha256
keep=${SAME_OUTPUT_KEEP:+$(realpath -m "$SAME_OUTPUT_KEEP")}
export DIALOGSYNC_COMPONENTS=$PWD/target/components DIALOGSYNC_NOW=2026-12-01T12:00:00Z DIALOGSYNC_LOG=error
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Inside the work folder, with relative paths: dead letters name their file as given.
cd "$work"
store="sqlite://out.db"
sources=(a2-archived-forms a2-correspondence a3-app-instances a3-correspondence)
for i in "${!sources[@]}"; do
  s=${sources[$i]}
  count=$(( records / 4 + (i < records % 4 ? 1 : 0) ))
  "$bin" generate --source "$s" --count "$count" --from 2016-01-01 --to 2025-12-31 --seed $((7 + i)) --bad-ratio 0.001 --out "$s" >/dev/null
  if [ "$(wc -l < "$s/parties.csv")" -gt 1 ]; then
    "$bin" --store "$store" parties import "$s/parties.csv" >/dev/null
  fi
done
for s in "${sources[@]}"; do
  echo "== $s"
  "$bin" --store "$store" backfill --source "$s" --input "$s" --summary-json
done > "$work/summaries"
"$bin" --store "$store" dialogs search --limit 0 | LC_ALL=C sort > "$work/dialogs"
"$bin" --store "$store" dead-letters list | LC_ALL=C sort > "$work/dead-letters"
digest=$(cat "$work/summaries" "$work/dialogs" "$work/dead-letters" | sha256sum | cut -d' ' -f1)
dialogs=$(wc -l < "$work/dialogs")
# SAME_OUTPUT_KEEP=DIR keeps what the digest covers, to compare two runs with diff.
if [ -n "$keep" ]; then
  mkdir -p "$keep" && cp "$work/summaries" "$work/dialogs" "$work/dead-letters" "$keep/"
fi
echo "$digest  $records records, $dialogs dialogs"
if [ -f "$expected" ]; then
  want=$(cut -d' ' -f1 < "$expected")
  if [ "$digest" = "$want" ]; then
    echo "same as $expected ($(cut -d' ' -f2- < "$expected"))"
  else
    echo "DIFFERENT from $expected: $want ($(cut -d' ' -f2- < "$expected"))" >&2
    exit 1
  fi
fi
