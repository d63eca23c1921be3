#!/usr/bin/env bash
# The PostGIS peer of `citygrid-bench locate` (docs/benchmarks.md, "Point location").
#
# Idempotent: installs Debian's postgresql-15-postgis-3 if the server offers no
# `postgis` extension, creates the extension in the database (default `test` on
# 127.0.0.1:5432 as user postgres, trust authentication), then runs
#   citygrid-bench locate --postgis
# which writes the grids and the random points to CSV, loads them with \copy,
# builds GiST indexes and times the ST_Contains join against CityGrid.
#
# Usage: crates/bench/scripts/postgis_locate.sh [extra `citygrid-bench locate` flags]
# Environment: PGHOST, PGPORT, PGUSER, PGDATABASE; BENCH (the benchmark binary,
# default target/release/citygrid-bench, built with citygrid if missing).
set -euo pipefail

export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}" PGDATABASE="${PGDATABASE:-test}"
cd "$(dirname "$0")/../../.."

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

if ! q -c 'SELECT 1' >/dev/null; then
  echo "cannot reach PostgreSQL at $PGHOST:$PGPORT as $PGUSER (database $PGDATABASE)" >&2
  exit 1
fi
if [ "$(q -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")" != "1" ]; then
  server_major="$(q -c 'SHOW server_version_num' | cut -c1-2)"
  if [ "$server_major" != "15" ]; then
    echo "the server is PostgreSQL $server_major; this script installs PostGIS for 15 only" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-15-postgis-3
fi
q -c 'CREATE EXTENSION IF NOT EXISTS postgis' >/dev/null
echo "PostGIS $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'postgis'") in $PGDATABASE" >&2

bin="${BENCH:-target/release/citygrid-bench}"
if [ ! -x "$bin" ] || [ ! -x target/release/citygrid ]; then
  cargo build --release -p citygrid -p citygrid-bench
fi
exec "$bin" locate --postgis --pg "host=$PGHOST port=$PGPORT user=$PGUSER dbname=$PGDATABASE" "$@"
