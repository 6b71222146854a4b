#!/usr/bin/env bash
# Makes a hot standby (streaming replica) of the machine's PostgreSQL
# cluster on another port, for the tests of central's --store-read (feed
# reads from a streaming replica; docs/decisions/0019-replicas.md). Run
# scripts/start-postgres.sh first. Prints the environment to use:
#   export EDGETRUST_PG_STANDBY_DSN=...
# Safe to run again (an existing standby is started, not rebuilt).
# Remove it with: scripts/start-pg-standby.sh stop
set -euo pipefail
read -r PGV _ PGPORT _ < <(pg_lsclusters -h | head -n1)
BIN=/usr/lib/postgresql/$PGV/bin
PORT=${EDGETRUST_PG_STANDBY_PORT:-$((PGPORT + 1))}
DIR=${EDGETRUST_PG_STANDBY_DIR:-/var/tmp/edgetrust-pg-standby}
as_pg() { su postgres -c "$*"; }
if [[ ${1:-} == stop ]]; then
  as_pg "$BIN/pg_ctl -D $DIR -m fast stop" >/dev/null 2>&1 || true
  rm -rf "$DIR"
  exit 0
fi
if [[ ! -f $DIR/standby.signal ]]; then
  rm -rf "$DIR"
  install -d -o postgres -g postgres -m 0700 "$DIR"
  # -R writes standby.signal and primary_conninfo; -X stream copies the WAL
  # written meanwhile. Over the local socket as the postgres superuser.
  as_pg "$BIN/pg_basebackup -p $PGPORT -D $DIR -R -X stream -c fast" >/dev/null
  # Debian keeps the configuration outside the data directory: give the
  # standby its own, minimal one.
  as_pg "cat > $DIR/postgresql.conf" <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
hot_standby = on
max_connections = 200
CONF
  as_pg "cat > $DIR/pg_hba.conf" <<HBA
local all all peer
host  all all 127.0.0.1/32 scram-sha-256
HBA
fi
as_pg "$BIN/pg_ctl -D $DIR -l $DIR/standby.log -w start" >/dev/null 2>&1 || true # "already running" is fine
pg_isready -q -h 127.0.0.1 -p "$PORT" -t 30
echo "export EDGETRUST_PG_STANDBY_DSN=postgres://edgetrust:edgetrust@127.0.0.1:$PORT/edgetrust_test"
