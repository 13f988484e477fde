#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, for tests and trying `interbasis slurm` on one machine.
#
#   scripts/slurm-local.sh start   # install (Debian, as root) and start munged, slurmctld, slurmd;
#                                  # returns once `sinfo` shows the node idle
#   scripts/slurm-local.sh stop    # stop the daemons started by `start` (by PID)
#   scripts/slurm-local.sh status  # print whether it runs and where the logs are
#
# No systemd is needed: the daemons run in the background, their PIDs and logs live in
# $SLURM_LOCAL_DIR (default /tmp/interbasis-slurm). Needs root (apt-get, munge and slurm users).
set -euo pipefail

STATE="${SLURM_LOCAL_DIR:-/tmp/interbasis-slurm}"
CONF_DIR=/etc/slurm
HOST="$(hostname -s)"

log() { printf 'slurm-local: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (installs packages and starts daemons)"; }

install_packages() {
  local missing=()
  command -v slurmctld >/dev/null || missing+=(slurmctld)
  command -v slurmd >/dev/null || missing+=(slurmd)
  command -v sbatch >/dev/null || missing+=(slurm-client)
  command -v munged >/dev/null || missing+=(munge)
  if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} yourself (Debian packages)"
    log "installing ${missing[*]} (apt-get, no recommends)"
    # a fresh machine's package index may be empty or stale: update it once if the install fails
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge >"$STATE/apt.log" 2>&1 ||
      { log "updating the package index (apt-get update)"; apt-get update >>"$STATE/apt.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge >>"$STATE/apt.log" 2>&1; } ||
      { tail -n 20 "$STATE/apt.log" >&2; die "apt-get install failed (log: $STATE/apt.log)"; }
  fi
}

# state (S/R/D…) of a PID, empty if gone; an exited daemon lingers as a zombie (Z) under PID 1
pstate() { ps -o stat= -p "$1" 2>/dev/null | tr -d ' ' || true; }
alive() { local s; s="$(pstate "$1")"; [ -n "$s" ] && [ "${s#Z}" = "$s" ]; }

write_conf() {
  local cpus mem
  cpus="$(nproc)"
  mem="$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)"
  # a fresh cluster each start: no jobs left over from an earlier one
  rm -rf "$STATE/spool"
  mkdir -p "$CONF_DIR" "$STATE/spool/ctld" "$STATE/spool/d"
  cat >"$CONF_DIR/slurm.conf" <<EOF
# written by interbasis scripts/slurm-local.sh: a one-node cluster on localhost
ClusterName=interbasis-local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=bf_interval=1
DependencyParameters=kill_invalid_depend
ReturnToService=2
MinJobAge=300
MaxArraySize=10001
KillWait=5
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
}

start_munge() {
  if [ -f "$STATE/munged.pid" ] && alive "$(cat "$STATE/munged.pid")"; then return; fi
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged --force --log-file=/var/log/munge/munged.log --pid-file=/run/munge/munged.pid
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  [ -s /run/munge/munged.pid ] || die "munged did not start (log: /var/log/munge/munged.log)"
  cp /run/munge/munged.pid "$STATE/munged.pid"
}

wait_idle() {
  local s=""
  for _ in $(seq 600); do
    s="$(sinfo -h -N -o '%T' 2>/dev/null | head -n1 || true)"
    case "$s" in idle) return 0 ;; esac
    sleep 0.1
  done
  die "node not idle after 60 s (sinfo state '${s:-none}'); logs: $STATE/slurmctld.log, $STATE/slurmd.log"
}

start() {
  need_root
  mkdir -p "$STATE"
  install_packages
  if [ -f "$STATE/slurmctld.pid" ] && alive "$(cat "$STATE/slurmctld.pid")"; then
    log "already running"
    wait_idle
    print_logs
    return
  fi
  write_conf
  start_munge
  /usr/sbin/slurmctld -i -f "$CONF_DIR/slurm.conf" || die "slurmctld did not start (log: $STATE/slurmctld.log)"
  /usr/sbin/slurmd -f "$CONF_DIR/slurm.conf" || die "slurmd did not start (log: $STATE/slurmd.log)"
  for _ in $(seq 50); do [ -s "$STATE/slurmd.pid" ] && [ -s "$STATE/slurmctld.pid" ] && break; sleep 0.1; done
  wait_idle
  log "node $HOST idle"
  print_logs
}

stop_pid() {
  local name="$1" file="$2" pid
  [ -f "$file" ] || return 0
  pid="$(cat "$file")"
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$file"
  log "stopped $name"
}

stop() {
  need_root
  # slurmd and slurmctld before munged (they talk to it while shutting down)
  stop_pid slurmd "$STATE/slurmd.pid"
  stop_pid slurmctld "$STATE/slurmctld.pid"
  stop_pid munged "$STATE/munged.pid"
  print_logs
}

print_logs() {
  log "logs: $STATE/slurmctld.log $STATE/slurmd.log /var/log/munge/munged.log (config $CONF_DIR/slurm.conf)"
}

status() {
  local ok=1
  for d in munged slurmctld slurmd; do
    if [ -f "$STATE/$d.pid" ] && alive "$(cat "$STATE/$d.pid")"; then log "$d running (pid $(cat "$STATE/$d.pid"))"; else log "$d not running"; ok=0; fi
  done
  print_logs
  [ "$ok" = 1 ]
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
