#!/usr/bin/env bash
# A throw-away single-node Slurm cluster for the Slurm executor's tests: munged (shared,
# system-wide), slurmctld and slurmd with their config, state, logs and pid files in DIR.
# Measured recipe and the gotchas of Slurm 22.05 on Debian 12: docs/operations.md
# ("Running on Slurm").
#
#   scripts/services/slurm.sh start [DIR]            install (Debian packages) if missing,
#                                                    write DIR/slurm.conf, start the daemons,
#                                                    wait for the node to be idle. Idempotent.
#   scripts/services/slurm.sh stop  [DIR]            cancel every job, stop both daemons.
#   scripts/services/slurm.sh env   [DIR]            print the SLURM_TEST_* variables.
#   scripts/services/slurm.sh stop  DIR slurmctld    stop only the controller (jobs keep running),
#   scripts/services/slurm.sh start DIR slurmctld    and start it again: restart tests use these.
#
# DIR defaults to $SLURM_DIR or <repo>/.tmp/services/slurm. Overridable on the first start
# (remembered in DIR/ports.env): SLURMCTLD_PORT (6817), SLURMD_PORT (6818),
# SLURM_TEST_LICENSES (speos:1 — the slurm.conf `Licenses=` line).
# A fresh DIR starts job ids at 1 again. Slurm clients find this cluster through
# SLURM_CONF=DIR/slurm.conf (exported by `env` as SLURM_TEST_CONF). Must run as root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CMD="${1:-}"
DIR="${2:-${SLURM_DIR:-$ROOT/.tmp/services/slurm}}"
ONLY="${3:-}"
if [ -f "$DIR/ports.env" ]; then
  while IFS='=' read -r name value; do
    [ -n "$name" ] && [ -z "${!name:-}" ] && export "$name=$value"
  done <"$DIR/ports.env"
fi
CTLD_PORT="${SLURMCTLD_PORT:-6817}"
SLURMD_PORT="${SLURMD_PORT:-6818}"
LICENSES="${SLURM_TEST_LICENSES:-speos:1}"
export SLURM_CONF="$DIR/slurm.conf"

log() { echo "slurm.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

install_packages() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null &&
    command -v munged >/dev/null && return
  [ "$(id -u)" = 0 ] || die "Slurm is not installed (apt-get install slurmctld slurmd slurm-client munge)"
  log "installing slurmctld slurmd slurm-client munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
}

start_munge() {
  munge -n >/dev/null 2>&1 && return
  if [ ! -f /etc/munge/munge.key ]; then
    mungekey --create --force
    chown munge:munge /etc/munge/munge.key
    chmod 0600 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 100); do munge -n >/dev/null 2>&1 && return; sleep 0.1; done
  die "munged did not start"
}

write_conf() {
  local host cpus mem sock cores threads
  host="$(hostname -s)"
  cpus="$(nproc)"
  # RealMemory above the real memory drains the node; 80 % leaves room.
  mem=$(($(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) * 80 / 100))
  read -r sock cores threads < <(slurmd -C | head -1 | sed -E \
    's/.*SocketsPerBoard=([0-9]+) CoresPerSocket=([0-9]+) ThreadsPerCore=([0-9]+).*/\1 \2 \3/')
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
  printf 'SLURMCTLD_PORT=%s\nSLURMD_PORT=%s\nSLURM_TEST_LICENSES=%s\n' "$CTLD_PORT" "$SLURMD_PORT" "$LICENSES" \
    >"$DIR/ports.env"
  cat >"$DIR/slurm.conf" <<CONF
# Written by scripts/services/slurm.sh: a one-node test cluster, no accounting database.
ClusterName=speostest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Without slurmdbd, \`sacct -c\` reads finished jobs from this completion log.
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
KillWait=5
MinJobAge=300
EnforcePartLimits=ALL
Licenses=$LICENSES
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Sockets=$sock CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

start_daemon() {
  local name="$1"
  if alive "$name"; then return; fi
  "/usr/sbin/$name" -f "$SLURM_CONF"
  for _ in $(seq 100); do alive "$name" && return; sleep 0.1; done
  die "$name did not start (see $DIR/log/$name.log)"
}

stop_daemon() {
  local name="$1" pid
  alive "$name" || return 0
  pid="$(cat "$DIR/$name.pid")"
  kill -TERM "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

start() {
  install_packages
  mkdir -p "$DIR"
  start_munge
  [ -f "$DIR/slurm.conf" ] || write_conf
  if [ "$ONLY" = slurmctld ]; then start_daemon slurmctld; log "slurmctld started"; return; fi
  start_daemon slurmctld
  start_daemon slurmd
  for _ in $(seq 300); do
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && { log "running (dir $DIR, slurmctld port $CTLD_PORT)"; return; }
    sleep 0.1
  done
  die "the node did not become idle: $(sinfo -h -o '%T %E' 2>&1)"
}

stop() {
  if [ "$ONLY" = slurmctld ]; then stop_daemon slurmctld; log "slurmctld stopped"; return; fi
  # Jobs first: a job outlives its daemons (slurmstepd is independent).
  if alive slurmctld; then
    scancel --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 150); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  stop_daemon slurmd
  stop_daemon slurmctld
  log "stopped (state kept in $DIR; delete it for a fresh cluster)"
}

print_env() {
  [ -f "$DIR/slurm.conf" ] || die "not started; run $0 start first"
  echo "export SLURM_TEST_CONF=$DIR/slurm.conf"
  echo "export SLURM_TEST_DIR=$DIR"
  echo "export SLURM_TEST_LICENSES=$LICENSES"
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env [DIR [slurmctld]]" >&2; exit 2 ;;
esac
