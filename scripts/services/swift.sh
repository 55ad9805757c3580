#!/usr/bin/env bash
# A throw-away OpenStack Swift + s3api server: the S3-compatible store the tests run
# against (see docs/operations.md; chosen because it passes every multipart check the
# S3 store relies on — ListParts, part order, EntityTooSmall, presigned-URL expiry).
#
#   scripts/services/swift.sh start [DIR]   install (Debian packages) if missing, build
#                                           config + rings under DIR, start memcached and
#                                           the 4 servers, create the bucket. Idempotent.
#   scripts/services/swift.sh stop  [DIR]   stop what start started (by pid file).
#   scripts/services/swift.sh env   [DIR]   print the S3_TEST_* variables.
#
#   scripts/services/swift.sh stop  DIR SERVER   stop one server of a running instance, and
#   scripts/services/swift.sh start DIR SERVER   start it again (SERVER: proxy, object,
#                                           container, account). Outage tests use these:
#                                           without the proxy the S3 endpoint refuses
#                                           connections; without the object server it
#                                           answers 503.
#
# DIR defaults to $SWIFT_DIR or <repo>/.tmp/services/swift. Overridable (the first start
# remembers them in DIR/ports.env, so later commands on DIR need not repeat them):
#   SWIFT_PROXY_PORT (8080), SWIFT_OBJECT_PORT (6200), SWIFT_CONTAINER_PORT (6201),
#   SWIFT_ACCOUNT_PORT (6202), SWIFT_MEMCACHED_PORT (11211),
#   SWIFT_CORS_ORIGIN (* — the browser origin allowed to PUT parts),
#   SWIFT_PROXY_WORKERS (0 — proxy processes; raise it for throughput measurements),
#   S3_TEST_BUCKET (speos-test).
# Must run as root (the servers may drop to user swift, which then owns DIR).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CMD="${1:-}"
DIR="${2:-${SWIFT_DIR:-$ROOT/.tmp/services/swift}}"
SERVER="${3:-}"
# Ports an earlier start of this DIR chose, unless the environment names others.
if [ -f "$DIR/ports.env" ]; then
  while IFS='=' read -r name value; do
    [ -n "$name" ] && [ -z "${!name:-}" ] && export "$name=$value"
  done <"$DIR/ports.env"
fi
PROXY_PORT="${SWIFT_PROXY_PORT:-8080}"
OBJECT_PORT="${SWIFT_OBJECT_PORT:-6200}"
CONTAINER_PORT="${SWIFT_CONTAINER_PORT:-6201}"
ACCOUNT_PORT="${SWIFT_ACCOUNT_PORT:-6202}"
MEMCACHED_PORT="${SWIFT_MEMCACHED_PORT:-11211}"
CORS_ORIGIN="${SWIFT_CORS_ORIGIN:-*}"
# 0: the proxy serves in its one process (least memory, enough for tests); N: N forked workers.
PROXY_WORKERS="${SWIFT_PROXY_WORKERS:-0}"
BUCKET="${S3_TEST_BUCKET:-speos-test}"
# tempauth's test account: access key "<account>:<user>", secret = its password.
ACCESS_KEY="test:tester"
SECRET_KEY="testing"
REGION="us-east-1"

log() { echo "swift.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

healthy() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/healthcheck" 2>/dev/null; }

all_healthy() {
  local port
  for port in "$OBJECT_PORT" "$CONTAINER_PORT" "$ACCOUNT_PORT" "$PROXY_PORT"; do healthy "$port" || return 1; done
}

install_packages() {
  local missing=()
  local cmd
  for cmd in swift-proxy-server swift-object-server swift-container-server swift-account-server swift-ring-builder memcached curl; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages (missing: ${missing[*]}; about 70 s)"
  [ "$(id -u)" = 0 ] || die "need root to apt-get install swift"
  # Ask apt not to start the packaged services: we run our own throw-away ones.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d.speos && chmod +x /usr/sbin/policy-rc.d.speos
  [ -e /usr/sbin/policy-rc.d ] || cp /usr/sbin/policy-rc.d.speos /usr/sbin/policy-rc.d
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    swift swift-proxy swift-account swift-container swift-object memcached curl >/dev/null
  if cmp -s /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.speos; then rm -f /usr/sbin/policy-rc.d; fi
  rm -f /usr/sbin/policy-rc.d.speos
}

write_configs() {
  mkdir -p "$DIR/node/sdb1" "$DIR/cache" "$DIR/run" "$DIR/log"
  printf 'SWIFT_PROXY_PORT=%s\nSWIFT_OBJECT_PORT=%s\nSWIFT_CONTAINER_PORT=%s\nSWIFT_ACCOUNT_PORT=%s\nSWIFT_MEMCACHED_PORT=%s\n' \
    "$PROXY_PORT" "$OBJECT_PORT" "$CONTAINER_PORT" "$ACCOUNT_PORT" "$MEMCACHED_PORT" >"$DIR/ports.env"
  local hash
  hash="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  [ -f "$DIR/swift.conf" ] || cat >"$DIR/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = speos-$hash
swift_hash_path_suffix = portal-$hash

[storage-policy:0]
name = Policy-0
default = yes
EOF
  local common="user = swift
swift_dir = $DIR
devices = $DIR/node
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
log_name = %s
log_level = WARNING"
  local kind port
  for kind in object container account; do
    case $kind in
      object) port=$OBJECT_PORT ;;
      container) port=$CONTAINER_PORT ;;
      account) port=$ACCOUNT_PORT ;;
    esac
    cat >"$DIR/$kind-server.conf" <<EOF
[DEFAULT]
$(printf "$common" "$kind-server")
bind_port = $port
workers = 0

[pipeline:main]
pipeline = healthcheck recon $kind-server

[app:$kind-server]
use = egg:swift#$kind

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:recon]
use = egg:swift#recon
recon_cache_path = $DIR/cache
EOF
  done
  cat >"$DIR/proxy-server.conf" <<EOF
[DEFAULT]
$(printf "$common" proxy-server)
bind_port = $PROXY_PORT
workers = $PROXY_WORKERS

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
# The browser origin(s) allowed to PUT parts straight into the store (CORS).
cors_allow_origin = $CORS_ORIGIN
strict_cors_mode = true

[filter:s3api]
use = egg:swift#s3api
location = $REGION
# S3's minimum part size (5 MiB): Complete answers EntityTooSmall below it, as AWS does.
min_segment_size = 5242880
# S3 allows 10 000 parts per upload (s3api defaults to 1000); the portal plans up to 10 000.
max_upload_part_num = 10000
cors_preflight_allow_origin = $CORS_ORIGIN

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SECRET_KEY .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
  # Rings: one device, one replica, 2^6 partitions — enough for one machine.
  for kind in object container account; do
    case $kind in
      object) port=$OBJECT_PORT ;;
      container) port=$CONTAINER_PORT ;;
      account) port=$ACCOUNT_PORT ;;
    esac
    if [ ! -f "$DIR/$kind.ring.gz" ]; then
      (cd "$DIR" &&
        swift-ring-builder "$kind.builder" create 6 1 1 >/dev/null &&
        swift-ring-builder "$kind.builder" add "r1z1-127.0.0.1:$port/sdb1" 100 >/dev/null &&
        swift-ring-builder "$kind.builder" rebalance >/dev/null) || die "building the $kind ring failed"
    fi
  done
  chown -R swift:swift "$DIR"
  # The servers drop to user swift and then read the rings: every parent must be traversable.
  runuser -u swift -- test -r "$DIR/object.ring.gz" ||
    die "user swift cannot read $DIR (a parent directory is not traversable); pass another DIR"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
  [ "$(id -u)" = 0 ] || die "run as root (the Swift servers drop to user swift)"
  install_packages
  if all_healthy; then
    log "already running on 127.0.0.1:$PROXY_PORT"
  else
    write_configs
    if ! pid_alive "$DIR/run/memcached.pid"; then
      # In the foreground under setsid (not -d): its pid is then $!, and a memcached left
      # over from an earlier cluster would serve this one stale account info.
      if (echo >"/dev/tcp/127.0.0.1/$MEMCACHED_PORT") 2>/dev/null; then
        die "port $MEMCACHED_PORT is taken (a memcached not started by this script?); stop it or set SWIFT_MEMCACHED_PORT"
      fi
      setsid memcached -u memcache -l 127.0.0.1 -p "$MEMCACHED_PORT" -m 64 </dev/null >"$DIR/log/memcached.log" 2>&1 &
      echo $! >"$DIR/run/memcached.pid"
    fi
    local kind
    for kind in object container account proxy; do
      pid_alive "$DIR/run/$kind.pid" && continue
      setsid "swift-$kind-server" "$DIR/$kind-server.conf" </dev/null >"$DIR/log/$kind.log" 2>&1 &
      echo $! >"$DIR/run/$kind.pid"
    done
    local deadline=$((SECONDS + 60))
    until all_healthy; do
      for kind in object container account proxy; do
        pid_alive "$DIR/run/$kind.pid" || { tail -20 "$DIR/log/$kind.log" >&2; die "swift-$kind-server exited"; }
      done
      [ $SECONDS -lt $deadline ] || die "Swift did not become healthy within 60 s (logs in $DIR/log)"
      sleep 0.3
    done
    log "running on 127.0.0.1:$PROXY_PORT (dir $DIR)"
  fi
  create_bucket
}

# A Swift container is an S3 bucket; create it with Swift's own API (tempauth token),
# which needs nothing but curl.
create_bucket() {
  local headers token storage status
  headers="$(curl -fsS -D - -o /dev/null -H "X-Auth-User: $ACCESS_KEY" -H "X-Auth-Key: $SECRET_KEY" \
    "http://127.0.0.1:$PROXY_PORT/auth/v1.0")" || die "tempauth login failed"
  token="$(printf '%s' "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}')"
  storage="$(printf '%s' "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-storage-url"{print $2}')"
  status="$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "X-Auth-Token: $token" "$storage/$BUCKET")"
  case $status in
    201 | 202) log "bucket $BUCKET ready" ;;
    *) die "creating bucket $BUCKET answered HTTP $status" ;;
  esac
}

stop() {
  local kind
  for kind in proxy object container account memcached; do
    local file="$DIR/run/$kind.pid"
    if pid_alive "$file"; then
      kill "$(cat "$file")" 2>/dev/null || true
    fi
  done
  # Give them a moment, then insist.
  for _ in $(seq 1 30); do
    local alive=0
    for kind in proxy object container account memcached; do pid_alive "$DIR/run/$kind.pid" && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  for kind in proxy object container account memcached; do
    pid_alive "$DIR/run/$kind.pid" && kill -9 "$(cat "$DIR/run/$kind.pid")" 2>/dev/null || true
    rm -f "$DIR/run/$kind.pid"
  done
  log "stopped (data kept in $DIR; delete it for a fresh start)"
}

print_env() {
  cat <<EOF
export S3_TEST_ENDPOINT=http://127.0.0.1:$PROXY_PORT
export S3_TEST_BUCKET=$BUCKET
export S3_TEST_ACCESS_KEY_ID=$ACCESS_KEY
export S3_TEST_SECRET_ACCESS_KEY=$SECRET_KEY
export S3_TEST_REGION=$REGION
EOF
}

port_of() {
  case $1 in
    proxy) echo "$PROXY_PORT" ;;
    object) echo "$OBJECT_PORT" ;;
    container) echo "$CONTAINER_PORT" ;;
    account) echo "$ACCOUNT_PORT" ;;
    *) die "unknown server \"$1\" (proxy, object, container or account)" ;;
  esac
}

# One server of an instance that start set up: kill it, as a crash would (the rest keep
# running)...
stop_server() {
  local file="$DIR/run/$SERVER.pid"
  port_of "$SERVER" >/dev/null
  if pid_alive "$file"; then
    kill -9 "$(cat "$file")" 2>/dev/null || true
    for _ in $(seq 1 50); do pid_alive "$file" || break; sleep 0.1; done
  fi
  rm -f "$file"
  log "$SERVER server stopped (port $(port_of "$SERVER"))"
}

# ...and start it again, waiting until it answers its health check.
start_server() {
  local port
  port="$(port_of "$SERVER")"
  [ -f "$DIR/$SERVER-server.conf" ] || die "no $DIR/$SERVER-server.conf; run $0 start $DIR first"
  if ! pid_alive "$DIR/run/$SERVER.pid"; then
    setsid "swift-$SERVER-server" "$DIR/$SERVER-server.conf" </dev/null >>"$DIR/log/$SERVER.log" 2>&1 &
    echo $! >"$DIR/run/$SERVER.pid"
  fi
  local deadline=$((SECONDS + 60))
  until healthy "$port"; do
    pid_alive "$DIR/run/$SERVER.pid" || { tail -20 "$DIR/log/$SERVER.log" >&2; die "swift-$SERVER-server exited"; }
    [ $SECONDS -lt $deadline ] || die "swift-$SERVER-server did not answer within 60 s"
    sleep 0.1
  done
  log "$SERVER server running on 127.0.0.1:$port"
}

case "$CMD" in
  start) if [ -n "$SERVER" ]; then start_server; else start; fi ;;
  stop) if [ -n "$SERVER" ]; then stop_server; else stop; fi ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env [DIR] [proxy|object|container|account]" >&2; exit 2 ;;
esac
