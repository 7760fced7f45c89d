#!/usr/bin/env bash
# A throwaway PostgreSQL server for the history store tests (tests/history/test_store.py).
# Installs Debian's `postgresql` package if no server is there, initdb's a cluster in a new
# temporary directory as a non-root user (PostgreSQL refuses to run as root), starts it on a
# Unix socket in that directory (no TCP port, nothing else can reach it) and prints, for eval:
#   export PIPELINE_GUARD_TEST_POSTGRES=postgresql+psycopg://guard@/guard?host=DIR&port=PORT
#   export PIPELINE_GUARD_TEST_POSTGRES_STOP=...   (the command that stops it and removes DIR)
# Usage: eval "$(.ci/postgres.sh)"
set -euo pipefail

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "$(bin_dir)" ]; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
fi
BIN="$(bin_dir)"
DIR="$(mktemp -d /tmp/pipeline-guard-pg.XXXXXX)"
PORT=$(( 20000 + RANDOM % 20000 ))

as_owner() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  OWNER=postgres
  id "$OWNER" >/dev/null 2>&1 || useradd --system --no-create-home "$OWNER"
  chown "$OWNER" "$DIR"
  as_owner() { runuser -u "$OWNER" -- "$@"; }
fi

as_owner "$BIN/initdb" -D "$DIR/data" -A trust -U guard --no-sync >/dev/null
as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-p $PORT -k $DIR -c listen_addresses= -c fsync=off" start >/dev/null
as_owner "$BIN/createdb" -h "$DIR" -p "$PORT" -U guard guard

STOP="$BIN/pg_ctl -D $DIR/data -m fast stop"
[ "$(id -u)" = 0 ] && STOP="runuser -u $OWNER -- $STOP"
echo "export PIPELINE_GUARD_TEST_POSTGRES='postgresql+psycopg://guard@/guard?host=$DIR&port=$PORT'"
echo "export PIPELINE_GUARD_TEST_POSTGRES_STOP='$STOP >/dev/null; rm -rf $DIR'"
