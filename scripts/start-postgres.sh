#!/usr/bin/env bash
# Starts the machine's PostgreSQL cluster (installed by install-deps.sh) and
# makes a test role and database for central's PostgreSQL store. Prints the
# environment to use: export EDGETRUST_PG_DSN=...  Safe to run again.
set -euo pipefail
read -r PGV PGC PGPORT _ < <(pg_lsclusters -h | head -n1)
pg_ctlcluster "$PGV" "$PGC" start >/dev/null 2>&1 || true # "already running" is fine
pg_isready -q -h 127.0.0.1 -p "$PGPORT" -t 30
psql_su() { su postgres -c "psql -p $PGPORT -qtAc \"$1\""; }
psql_su "SELECT 1 FROM pg_roles WHERE rolname='edgetrust'" | grep -q 1 ||
  psql_su "CREATE ROLE edgetrust LOGIN PASSWORD 'edgetrust'" >/dev/null
psql_su "SELECT 1 FROM pg_database WHERE datname='edgetrust_test'" | grep -q 1 ||
  su postgres -c "createdb -p $PGPORT -O edgetrust edgetrust_test"
echo "export EDGETRUST_PG_DSN=postgres://edgetrust:edgetrust@127.0.0.1:$PGPORT/edgetrust_test"
