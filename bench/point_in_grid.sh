#!/usr/bin/env bash
# Point-in-grid benchmark: pingan's GridIndex against PostGIS and shapely 2 on the same data,
# one core each, with a point-by-point cross-check under the boundary rule (closed grids,
# smallest code in byte order wins). See bench/README.md.
#
#   bench/point_in_grid.sh           # full: 4,507 grids, 1,000,000 points
#   bench/point_in_grid.sh --smoke   # CI: 45 grids, 10,000 points, well under a minute
#
# Env: BENCH_REPEATS (timed runs per peer, best reported; default 3), KEEP_DATA=1 (keep the
# data directory), PGHOST/PGPORT/PGUSER (default 127.0.0.1:5432, postgres, trust auth).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

MODE=full GRIDS=4507 POINTS=1000000 LIMIT=1800
case "${1:-}" in
  --smoke) MODE=smoke GRIDS=45 POINTS=10000 LIMIT=120 ;;
  "") ;;
  *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
esac
REPEATS=${BENCH_REPEATS:-3}
SHAPELY_VERSION=2.1.2
NUMPY_VERSION=2.4.6
VENV=$ROOT/target/bench-venv
DATA=$ROOT/target/bench-data/point_in_grid-$MODE
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DB=pingan_bench_$$
# Everything on core 0: the figures are single-core, and the other core stays free for noise.
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c 0)

die() { echo "point_in_grid: $*" >&2; exit 1; }
cleanup() {
  dropdb --if-exists "$DB" 2>/dev/null || true
  [[ "${KEEP_DATA:-}" == 1 ]] || rm -rf "$DATA"
}
trap cleanup EXIT
start=$(date +%s)

# --- Prerequisites -----------------------------------------------------------------------------
if ! pg_isready -q; then
  command -v pg_ctlcluster >/dev/null || die "PostgreSQL 15 is not running on $PGHOST:$PGPORT and pg_ctlcluster is missing"
  pg_ctlcluster --skip-systemctl-redirect 15 main start || die "could not start PostgreSQL 15 (pg_ctlcluster 15 main start)"
  for _ in $(seq 30); do pg_isready -q && break; sleep 1; done
  pg_isready -q || die "PostgreSQL 15 did not come up on $PGHOST:$PGPORT"
fi
has_postgis() { [[ $(psql -XAtqc "select count(*) from pg_available_extensions where name = 'postgis'" postgres) == 1 ]]; }
if ! has_postgis; then
  echo "installing PostGIS (postgresql-15-postgis-3)..."
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql-15-postgis-3 >/dev/null ||
      { apt-get update -q >/dev/null && apt-get install -y -q postgresql-15-postgis-3 >/dev/null; } || true
  fi
  has_postgis || die "PostGIS is missing: install it with 'apt-get install postgresql-15-postgis-3' (Debian, as root)"
fi
if ! "$VENV/bin/python" -c "import shapely, sys; sys.exit(shapely.__version__ != '$SHAPELY_VERSION')" 2>/dev/null; then
  echo "installing shapely $SHAPELY_VERSION into $VENV..."
  { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "shapely==$SHAPELY_VERSION" "numpy==$NUMPY_VERSION"; } ||
    die "could not install shapely: run 'python3 -m venv $VENV && $VENV/bin/pip install shapely==$SHAPELY_VERSION numpy==$NUMPY_VERSION'"
fi

# --- pingan: writes the data set, times itself ----------------------------------------------------
rm -rf "$DATA" && mkdir -p "$DATA"
echo "== building the locate_bench example (release)"
cargo build -q --release -p pingan-geo --example locate_bench
echo "== pingan ($GRIDS grids, $POINTS points)"
timeout "$LIMIT" "${PIN[@]}" target/release/examples/locate_bench --grids "$GRIDS" --points "$POINTS" --out "$DATA" |
  tee "$DATA/pingan.out"
val() { awk -v k="$1" '$1 == k { print $2 }' "$DATA/pingan.out"; }
printf 'pingan\t%s\t%s\t%s\n' "$(val locate_s)" "$(val build_s)" "GridIndex::locate_many, best of 3" >"$DATA/timings.txt"

# --- shapely ----------------------------------------------------------------------------------
echo "== shapely $SHAPELY_VERSION"
timeout "$LIMIT" "${PIN[@]}" "$VENV/bin/python" bench/point_in_grid.py shapely "$DATA" "$REPEATS"

# --- PostGIS ----------------------------------------------------------------------------------
echo "== PostGIS ($DB)"
createdb "$DB"
# One psql session: load (untimed), then each form REPEATS times, timed by clock_timestamp()
# around the statement inside the server. The result is materialized into an unlogged table
# (part of the timed work, like shapely building its result arrays) and exported untimed.
# The backend is pinned to core 0 and parallel query is off, for a single-core figure.
timeout "$LIMIT" psql -XAtq -v ON_ERROR_STOP=1 -v grids_file="$DATA/grids.tsv" -v points_file="$DATA/points.csv" \
  -v plain_out="$DATA/postgis_plain.pairs.csv" -v fast_out="$DATA/postgis_pts_index.pairs.csv" -v repeats="$REPEATS" "$DB" <<'SQL' | tee "$DATA/postgis.out"
SET client_min_messages = warning;
CREATE EXTENSION postgis;
SET max_parallel_workers_per_gather = 0;
SELECT pg_backend_pid() AS pid \gset
\setenv BACKEND_PID :pid
\! taskset -pc 0 "$BACKEND_PID" >/dev/null 2>&1 || echo "note: could not pin the PostgreSQL backend to core 0"

-- Load (untimed).
CREATE TABLE grids_raw (code text, wkt text);
\set copy_grids '\\copy grids_raw FROM ' :'grids_file'
:copy_grids
CREATE TABLE grids AS
  SELECT code COLLATE "C" AS code, ST_GeomFromText(wkt, 4326)::geometry(MultiPolygon, 4326) AS geom FROM grids_raw;
CREATE TABLE pts_raw (id int, lon float8, lat float8);
\set copy_pts '\\copy pts_raw FROM ' :'points_file' ' CSV HEADER'
:copy_pts
-- float8 input is correctly rounded: the same bits as pingan's f64.
CREATE TABLE pts AS SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geometry(Point, 4326) AS geom FROM pts_raw;
DROP TABLE grids_raw, pts_raw;
-- The ordinary setup: a GiST index on the grids. Build time is reported, not counted.
SELECT clock_timestamp() AS t0 \gset
CREATE INDEX grids_gix ON grids USING gist (geom);
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS build_plain \gset
VACUUM ANALYZE grids;
VACUUM ANALYZE pts;

-- 1. The plain join, planner's choice (a nested loop over the points probing the grids' index).
\echo plan postgis_plain:
EXPLAIN (COSTS OFF) SELECT p.id, g.code FROM pts p JOIN grids g ON ST_Intersects(p.geom, g.geom);
\set i 0
\set best 1e9
SELECT :i < :repeats AS more \gset
\if :more
  DROP TABLE IF EXISTS r_plain;
  SELECT clock_timestamp() AS t0 \gset
  CREATE UNLOGGED TABLE r_plain AS SELECT p.id, g.code FROM pts p JOIN grids g ON ST_Intersects(p.geom, g.geom);
  SELECT least(:best, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)) AS best, :i + 1 AS i \gset
  SELECT :i < :repeats AS more \gset
\endif
\if :more
  DROP TABLE IF EXISTS r_plain;
  SELECT clock_timestamp() AS t0 \gset
  CREATE UNLOGGED TABLE r_plain AS SELECT p.id, g.code FROM pts p JOIN grids g ON ST_Intersects(p.geom, g.geom);
  SELECT least(:best, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)) AS best, :i + 1 AS i \gset
  SELECT :i < :repeats AS more \gset
\endif
\if :more
  DROP TABLE IF EXISTS r_plain;
  SELECT clock_timestamp() AS t0 \gset
  CREATE UNLOGGED TABLE r_plain AS SELECT p.id, g.code FROM pts p JOIN grids g ON ST_Intersects(p.geom, g.geom);
  SELECT least(:best, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)) AS best, :i + 1 AS i \gset
\endif
\echo timing postgis_plain :best :build_plain
\set out '\\copy r_plain TO ' :'plain_out' ' CSV'
:out

-- 2. The fastest form found: a GiST index on the points too, and the grids as the outer side
--    (LATERAL forces it). Each grid then probes the points' index once for its bbox, and
--    ST_Intersects sees the same polygon for a whole run of points, so PostGIS caches its
--    prepared (indexed) form instead of re-reading the polygon for every point.
SELECT clock_timestamp() AS t0 \gset
CREATE INDEX pts_gix ON pts USING gist (geom);
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS build_fast \gset
VACUUM ANALYZE pts;
\echo plan postgis_pts_index:
EXPLAIN (COSTS OFF) SELECT p.id, g.code FROM grids g CROSS JOIN LATERAL (SELECT id FROM pts WHERE ST_Intersects(g.geom, pts.geom)) p;
\set i 0
\set best 1e9
SELECT :i < :repeats AS more \gset
\if :more
  DROP TABLE IF EXISTS r_fast;
  SELECT clock_timestamp() AS t0 \gset
  CREATE UNLOGGED TABLE r_fast AS SELECT p.id, g.code FROM grids g CROSS JOIN LATERAL (SELECT id FROM pts WHERE ST_Intersects(g.geom, pts.geom)) p;
  SELECT least(:best, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)) AS best, :i + 1 AS i \gset
  SELECT :i < :repeats AS more \gset
\endif
\if :more
  DROP TABLE IF EXISTS r_fast;
  SELECT clock_timestamp() AS t0 \gset
  CREATE UNLOGGED TABLE r_fast AS SELECT p.id, g.code FROM grids g CROSS JOIN LATERAL (SELECT id FROM pts WHERE ST_Intersects(g.geom, pts.geom)) p;
  SELECT least(:best, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)) AS best, :i + 1 AS i \gset
  SELECT :i < :repeats AS more \gset
\endif
\if :more
  DROP TABLE IF EXISTS r_fast;
  SELECT clock_timestamp() AS t0 \gset
  CREATE UNLOGGED TABLE r_fast AS SELECT p.id, g.code FROM grids g CROSS JOIN LATERAL (SELECT id FROM pts WHERE ST_Intersects(g.geom, pts.geom)) p;
  SELECT least(:best, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)) AS best, :i + 1 AS i \gset
\endif
\echo timing postgis_pts_index :best :build_fast
\set out '\\copy r_fast TO ' :'fast_out' ' CSV'
:out
SELECT 'versions ' || postgis_full_version();
SQL
awk '$1 == "timing" { printf "%s\t%s\t%s\t%s\n", $2, $3, $4, ($2 == "postgis_plain" ? "ST_Intersects join, GiST on grids" : "GiST on points, grids outer (LATERAL)") }' \
  "$DATA/postgis.out" >>"$DATA/timings.txt"

# --- Cross-check and table ------------------------------------------------------------------------
"$VENV/bin/python" bench/point_in_grid.py report "$DATA"
echo "point_in_grid ($MODE): done in $(($(date +%s) - start)) s"
