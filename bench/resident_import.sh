#!/usr/bin/env bash
# Resident import benchmark: `pingan import residents` of N rows from CSV on SQLite (validated,
# de-duplicated, placed in 4,507 grids, encrypted and indexed as the product stores them)
# against the floor: the sqlite3 shell's `.import` of the same file into an unindexed table.
#
#   bench/resident_import.sh           # full: 1,000,000 residents
#   bench/resident_import.sh --smoke   # CI: 10,000 residents, 45 grids, debug build: only keeps
#                                      # the script working; its figures mean nothing
#
# Env: KEEP_DATA=1 keeps the data directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE=full ROWS=1000000 GRIDS=4507
case "${1:-}" in
  --smoke) MODE=smoke ROWS=10000 GRIDS=45 ;;
  "") ;;
  *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
esac
DATA=$ROOT/target/bench-data/resident_import-$MODE
die() { echo "resident_import: $*" >&2; exit 1; }
cleanup() { [[ "${KEEP_DATA:-}" == 1 ]] || rm -rf "$DATA"; }
trap cleanup EXIT
command -v sqlite3 >/dev/null || die "the sqlite3 shell is missing: apt-get install sqlite3"

# The smoke run only keeps the script working: it uses the debug build CI has already made.
if [[ $MODE == smoke ]]; then
  cargo build --locked --bin pingan --example bench_residents >&2
  OUT=$ROOT/target/debug
else
  cargo build --release --locked --bin pingan --example bench_residents >&2
  OUT=$ROOT/target/release
fi
BIN=$OUT/pingan
rm -rf "$DATA" && mkdir -p "$DATA"
"$OUT/examples/bench_residents" "$ROWS" "$DATA" "$GRIDS"
"$BIN" key generate --out "$DATA/pingan.key" >/dev/null
COMMON=(--data "$DATA/db" --key "$DATA/pingan.key")
"$BIN" org import "${COMMON[@]}" "$DATA/units.csv" >/dev/null
"$BIN" grids import "${COMMON[@]}" "$DATA/grids.geojson" >/dev/null

now() { date +%s.%N; }
t0=$(now)
"$BIN" import residents "${COMMON[@]}" "$DATA/residents.csv" 2>/dev/null | tee "$DATA/ours.txt"
t1=$(now)
sqlite3 "$DATA/floor.db" ".import --csv $DATA/residents.csv floor"
t2=$(now)

ours=$(echo "$t1 - $t0" | bc -l)
floor=$(echo "$t2 - $t1" | bc -l)
stored=$(sqlite3 "$DATA/db/pingan.db" "SELECT COUNT(*) FROM residents")
copied=$(sqlite3 "$DATA/floor.db" "SELECT COUNT(*) FROM floor")
[[ "$copied" == "$ROWS" ]] || die "sqlite3 .import stored $copied rows, not $ROWS"
grep -q "residents created" "$DATA/ours.txt" || die "pingan's import did not finish"
printf '\n%-44s %10s %12s\n' "resident import, $ROWS rows ($MODE)" "seconds" "rows/s"
printf '%-44s %10.2f %12.0f\n' "pingan import residents (SQLite)" "$ours" "$(echo "$ROWS / $ours" | bc -l)"
printf '%-44s %10.2f %12.0f\n' "sqlite3 .import, unindexed, no checks" "$floor" "$(echo "$ROWS / $floor" | bc -l)"
printf 'pingan / floor = %.2f (goal: within 2.5); residents stored: %s\n' "$(echo "$ours / $floor" | bc -l)" "$stored"
