#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests: initdb into DIR as user postgres, start it on
# a free port (fsync off — test data only), create the database. Idempotent.
#
#   scripts/services/postgres.sh start [DIR]
#   scripts/services/postgres.sh stop  [DIR]
#   scripts/services/postgres.sh env   [DIR]   print PG_TEST_URL
#
# DIR defaults to $PG_DIR or <repo>/.tmp/services/postgres. PG_TEST_PORT picks the port
# (default: a free one, remembered in DIR/port); PG_TEST_DATABASE the database (speos_test).
# Needs PostgreSQL's server binaries (Debian: apt-get install postgresql).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CMD="${1:-}"
DIR="${2:-${PG_DIR:-$ROOT/.tmp/services/postgres}}"
DATABASE="${PG_TEST_DATABASE:-speos_test}"

log() { echo "postgres.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

bin_dir() {
  local found
  if command -v pg_ctl >/dev/null; then dirname "$(readlink -f "$(command -v pg_ctl)")"; return; fi
  found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$found" ] || die "PostgreSQL is not installed (apt-get install -y postgresql)"
  echo "$found"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Runs a PostgreSQL tool as user postgres (initdb and the server refuse root).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { [ -f "$DIR/data/postmaster.pid" ] && as_postgres "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; }

start() {
  BIN="$(bin_dir)"
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    as_postgres "$BIN/initdb" --auth=trust --no-sync --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
      -D "$DIR/data" >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  if [ ! -f "$DIR/port" ]; then
    echo "${PG_TEST_PORT:-$(free_port)}" >"$DIR/port"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR/port"
  fi
  PORT="$(cat "$DIR/port")"
  if running; then
    log "already running on 127.0.0.1:$PORT"
  else
    # Test data only: fsync off and no full-page writes make start-up and tests fast.
    as_postgres "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >/dev/null || { tail -20 "$DIR/server.log" >&2; die "PostgreSQL did not start (port $PORT busy? delete $DIR/port)"; }
    log "running on 127.0.0.1:$PORT (dir $DIR)"
  fi
  if [ -z "$(as_postgres "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -Atc \
    "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
    as_postgres "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DATABASE"
    log "database $DATABASE created"
  fi
}

stop() {
  BIN="$(bin_dir)"
  if running; then
    as_postgres "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    log "stopped (data kept in $DIR; delete it for a fresh cluster)"
  else
    log "not running"
  fi
}

print_env() {
  [ -f "$DIR/port" ] || die "not started; run $0 start first"
  echo "export PG_TEST_URL=postgres://postgres@127.0.0.1:$(cat "$DIR/port")/$DATABASE"
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env [DIR]" >&2; exit 2 ;;
esac
