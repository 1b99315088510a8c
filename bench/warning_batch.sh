#!/usr/bin/env bash
# A city's nine months of anti-fraud warnings (Xinxiang: 1.7 million) loaded from one CSV file
# as history, on SQLite, the way `pingan import warnings --history FILE` loads it: every row
# parsed and checked, stored once per (source, upstream id), matched to a resident by ID number
# or phone, routed through the grid, graded and merged into cases, audited. Prints warnings/s.
#
#   bench/warning_batch.sh           # full: the city demo (1.3 million residents), 1,700,000 warnings
#   bench/warning_batch.sh --smoke   # CI: the small demo, 17,000 warnings, debug build: keeps the
#                                    # script working; its figure means nothing
#
# Env: COUNT overrides the number of warnings. KEEP_DATA=1 keeps target/bench-data/warning_batch-*.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE=full SCALE=city COUNT=${COUNT:-1700000}
case "${1:-}" in
  --smoke) MODE=smoke SCALE=small COUNT=17000 ;;
  "") ;;
  *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
esac
DATA=$ROOT/target/bench-data/warning_batch-$MODE
cleanup() { [[ "${KEEP_DATA:-}" == 1 ]] || rm -rf "$DATA"; }
trap cleanup EXIT

if [[ $MODE == smoke ]]; then
  cargo build --locked --example warning_batch >&2
  BIN=$ROOT/target/debug/examples/warning_batch
else
  cargo build --release --locked --example warning_batch >&2
  BIN=$ROOT/target/release/examples/warning_batch
fi
rm -rf "$DATA" && mkdir -p "$DATA"
echo "== warning batch ($MODE): $COUNT warnings into the $SCALE demo, SQLite, synchronous=FULL"
"$BIN" build "$SCALE" "$DATA" | sed 's/^/   (not timed) /'
"$BIN" file "$DATA" "$COUNT" "$DATA/warnings.csv" | sed 's/^/   (not timed) /'
OUT=$("$BIN" load "$DATA" "$DATA/warnings.csv")
echo "$OUT" | sed 's/^/   /'
stored=$(echo "$OUT" | sed -n 's/^stored \([0-9]*\) warnings.*/\1/p')
[[ -n "$stored" && "$stored" -gt 0 ]] || { echo "warning_batch: nothing was stored" >&2; exit 1; }
