#!/usr/bin/env bash
# Warning intake under load: `POST /api/v1/warnings`, one new warning per request, from an
# open-loop generator at a fixed rate (latency counted from when each request was due, so a
# stalled server cannot hide its queue), beside the same generator against GET /healthz of the
# same server as the ceiling. Server and generator are pinned to separate cores. Runs on SQLite
# (WAL, synchronous=FULL: every acknowledged warning is durable) and on PostgreSQL.
#
#   bench/warning_api.sh           # full: 2,000 requests/s for 60 s on each engine
#   bench/warning_api.sh --smoke   # CI: 50 requests/s for 2 s, debug build: keeps the script
#                                  # working; its figures mean nothing
#
# Env: RATE, SECONDS_EACH override the full run; PG_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# names the PostgreSQL server to create a scratch database on; NO_PG=1 skips PostgreSQL,
# NO_SQLITE=1 SQLite; PER_SECOND=1 prints the worst latency of each second (where the tail falls).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE=full RATE=${RATE:-2000} SECS=${SECONDS_EACH:-60}
case "${1:-}" in
  --smoke) MODE=smoke RATE=50 SECS=2 ;;
  "") ;;
  *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
esac
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export PGOPTIONS='--client-min-messages=warning'
DATA=$ROOT/target/bench-data/warning_api-$MODE
SERVER_PID=""
die() { echo "warning_api: $*" >&2; exit 1; }
stop_server() {
  if [[ -n "$SERVER_PID" ]]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
cleanup() {
  stop_server
  psql "$PG_URL" -qc "drop database if exists pingan_bench_intake" >/dev/null 2>&1 || true
  [[ "${KEEP_DATA:-}" == 1 ]] || rm -rf "$DATA"
}
trap cleanup EXIT
command -v taskset >/dev/null || die "taskset is missing: apt-get install util-linux"

if [[ $MODE == smoke ]]; then
  cargo build --locked --example intake_bench >&2
  BIN=$ROOT/target/debug/examples/intake_bench
else
  cargo build --release --locked --example intake_bench >&2
  BIN=$ROOT/target/release/examples/intake_bench
fi
# Two cores: the server on core 0, the generator on core 1 (one core machines share core 0).
LAST=$(( $(nproc) - 1 ))

# Starts the server on the database URL $1; sets BASE.
start_server() {
  rm -rf "$DATA" && mkdir -p "$DATA"
  : >"$DATA/server.out"
  taskset -c 0 "$BIN" serve "$1" "$DATA" >"$DATA/server.out" 2>"$DATA/server.err" &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    BASE=$(sed -n 's/^serving //p' "$DATA/server.out")
    [[ -n "$BASE" ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DATA/server.err" >&2; die "the server died while starting"; }
    sleep 0.1
  done
  die "the server did not start within a minute"
}

run_engine() {
  local engine=$1 url=$2
  start_server "$url"
  echo "== $engine: $RATE requests/s for $SECS s each ($MODE)"
  local ceiling ours
  ceiling=$(taskset -c "$LAST" "$BIN" load "$BASE" "$RATE" "$SECS" healthz)
  ours=$(taskset -c "$LAST" "$BIN" load "$BASE" "$RATE" "$SECS" warnings)
  echo "   $ceiling"
  echo "   $ours"
  # The smoke run must be clean; a full run past the server's capacity reports what it got.
  case "$ours" in
    *"errors 0,"*) ;;
    *) [[ $MODE == smoke ]] && die "$engine: some warnings were not accepted"
       echo "   ($engine did not keep up with $RATE/s: the errors are requests not answered within 10 s)" ;;
  esac
  stop_server
}

[[ "${NO_SQLITE:-}" == 1 ]] || run_engine "SQLite (synchronous=FULL)" "sqlite://$DATA/pingan.db"
if [[ "${NO_PG:-}" != 1 ]]; then
  psql "$PG_URL" -Atc 'select 1' >/dev/null 2>&1 || die "PostgreSQL is not reachable at $PG_URL (NO_PG=1 to skip)"
  psql "$PG_URL" -qc "drop database if exists pingan_bench_intake" >/dev/null
  psql "$PG_URL" -qc "create database pingan_bench_intake" >/dev/null
  run_engine "PostgreSQL" "${PG_URL%/*}/pingan_bench_intake"
fi
