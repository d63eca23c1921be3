#!/usr/bin/env bash
# Makes sure the PostgreSQL server that citygrid-store-postgres's tests use is
# up: 127.0.0.1:5432, user postgres without a password, database `test`
# (override with CITYGRID_TEST_DATABASE_URL). Idempotent: does nothing when
# the server already answers; otherwise installs, starts and configures
# Debian's PostgreSQL for local tests only.
set -euo pipefail

url_ok() { psql "postgres://postgres@127.0.0.1:5432/test" -Atqc 'SELECT 1' >/dev/null 2>&1; }

if [ -n "${CITYGRID_TEST_DATABASE_URL:-}" ] || url_ok; then
    exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(pg_lsclusters -h | awk 'NR==1 {print $1}')
if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    pg_createcluster "$version" main >/dev/null
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
if ! url_ok; then
    # Local test server only: trust the postgres user on the loopback address.
    hba=$(su postgres -c "psql -Atqc 'SHOW hba_file'")
    if ! grep -q 'citygrid-tests' "$hba"; then
        { echo 'host all postgres 127.0.0.1/32 trust # citygrid-tests'; cat "$hba"; } >"$hba.new"
        mv "$hba.new" "$hba"
        chown postgres: "$hba"
        su postgres -c "psql -Atqc 'SELECT pg_reload_conf()'" >/dev/null
    fi
    su postgres -c "psql -Atqc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" | grep -q 1 \
        || su postgres -c "createdb test"
fi
url_ok || { echo "PostgreSQL for the tests is still not reachable at 127.0.0.1:5432" >&2; exit 1; }
