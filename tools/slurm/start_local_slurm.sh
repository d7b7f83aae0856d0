#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try profiles/slurm without a real cluster.
#
#   sudo tools/slurm/start_local_slurm.sh          # install (Debian/Ubuntu), configure, start
#   sudo tools/slurm/start_local_slurm.sh status   # sinfo, or exit 1 when it is not running
#   sudo tools/slurm/start_local_slurm.sh stop     # stop the daemons this script started
#
# Idempotent: a second `start` while the cluster is up only checks that the node is idle.
# What it does: installs the Debian packages slurm-wlm and munge if missing (apt-get), creates a
# munge key if there is none, writes /etc/slurm/slurm.conf for ONE node (this host, its real CPU
# count and memory as `slurmd -C` reports them) in one partition `debug` (the default), without
# accounting (no slurmdbd: `sacct` does not work, so Snakemake needs
# `--slurm-status-command squeue --slurm-no-account`), without cgroups (works in containers),
# and with MinJobAge=3600 so finished jobs stay visible to `squeue` for an hour (the executor's
# squeue status checks need that). Then it starts munged, slurmctld and slurmd and waits until
# `sinfo` shows the node idle.
#
# It never overwrites a slurm.conf it did not write (one without the marker line below): on a
# machine that already belongs to a cluster it stops with a message instead.
# Exit codes: 0 ok, 1 failure, 3 cannot install (not root, or no apt-get / apt-get failed):
# tests/test_slurm.py skips on 3 only.
set -euo pipefail

ACTION="${1:-start}"
CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
MARKER="# written by youngvae tools/slurm/start_local_slurm.sh"
STATE=/var/spool/youngvae-slurm
LOGDIR=/var/log/youngvae-slurm
PARTITION=debug
NODE="$(hostname -s)"

log() { echo "start_local_slurm: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
cannot_install() { log "CANNOT INSTALL: $*"; exit 3; }

pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_state() { sinfo -h -n "$NODE" -o %t 2>/dev/null | head -n1; }

install_packages() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    command -v munged >/dev/null || missing+=(munge)
    ((${#missing[@]} == 0)) && return 0
    [[ $EUID -eq 0 ]] || cannot_install "need root to install ${missing[*]} (run with sudo)"
    command -v apt-get >/dev/null || cannot_install "no apt-get: install ${missing[*]} yourself"
    log "installing slurm-wlm munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # No init system in containers: keep the packages' postinst scripts from starting daemons.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
    fi
    local ok=1
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurm-wlm munge; } \
        >"/tmp/youngvae-slurm-apt.log" 2>&1 || ok=0
    ((created_policy)) && rm -f "$policy"
    ((ok)) || cannot_install "apt-get install slurm-wlm munge failed (see /tmp/youngvae-slurm-apt.log)"
}

setup_munge() {
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        mkdir -p /etc/munge
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile=/etc/munge/munge.key --force
        else
            dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
        fi
    fi
    chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge 2>/dev/null || true
    chmod 0700 /etc/munge
    chmod 0400 /etc/munge/munge.key
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
    if pid_alive /run/munge/munged.pid && munge -n </dev/null | unmunge >/dev/null 2>&1; then
        return 0
    fi
    log "starting munged"
    runuser -u munge -- munged
    for _ in $(seq 50); do
        munge -n </dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "munged does not answer (munge -n | unmunge)"
}

write_conf() {
    if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        die "$CONF exists and was not written by this script: this machine seems to belong to a cluster; not touching it"
    fi
    # slurmd -C prints this node's real layout, e.g.
    # NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
    local node_line
    node_line="$(slurmd -C | grep '^NodeName=')" || die "slurmd -C failed"
    node_line="$(sed -E "s/^NodeName=[^ ]+/NodeName=$NODE/" <<<"$node_line")"
    mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$LOGDIR"
    local new
    new="$(
        cat <<EOF
$MARKER
# One node (this host), one partition, no accounting, no cgroups. Stop: start_local_slurm.sh stop
ClusterName=youngvae-local
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SwitchType=switch/none
# No cgroups (containers have none to delegate): plain process tracking, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Cores and memory are the consumable resources (jobs get --mem and --cpus-per-task).
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# No slurmdbd: no sacct, no accounts (Snakemake: --slurm-status-command squeue --slurm-no-account).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay in squeue for an hour: the executor's squeue status checks need them.
MinJobAge=3600
ReturnToService=2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/youngvae-slurmctld.pid
SlurmdPidFile=/run/youngvae-slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
$node_line State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    )"
    if [[ -e $CONF ]] && [[ "$(cat "$CONF")" == "$new" ]]; then
        return 1 # unchanged
    fi
    log "writing $CONF ($node_line)"
    printf '%s\n' "$new" >"$CONF"
    return 0
}

start() {
    # Already up (started earlier, perhaps with sudo): nothing to do, root or not.
    if [[ -f $CONF ]] && grep -qF "$MARKER" "$CONF" && command -v sinfo >/dev/null &&
        [[ "$(node_state)" =~ ^(idle|mix|alloc)$ ]]; then
        log "cluster already up: partition $PARTITION, node $NODE"
        sinfo
        return 0
    fi
    install_packages
    [[ $EUID -eq 0 ]] || cannot_install "run as root (sudo): starting the daemons needs it"
    setup_munge
    local changed=0
    write_conf && changed=1
    if ((changed)); then
        # A new configuration: restart what runs with the old one.
        stop_slurm_daemons
    fi
    if ! pid_alive /run/youngvae-slurmctld.pid; then
        log "starting slurmctld"
        slurmctld
    fi
    if ! pid_alive /run/youngvae-slurmd.pid; then
        log "starting slurmd"
        slurmd
    fi
    local state=""
    for _ in $(seq 60); do
        state="$(node_state)"
        case "$state" in
        idle | mix | alloc) break ;;
        down* | drain* | drng*)
            scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true
            ;;
        esac
        sleep 1
    done
    case "$state" in
    idle | mix | alloc) ;;
    *) die "node $NODE is '${state:-not known}' after 60 s; logs in $LOGDIR" ;;
    esac
    log "cluster up: partition $PARTITION, node $NODE ($state)"
    sinfo
}

stop_slurm_daemons() {
    local f pid
    for f in /run/youngvae-slurmd.pid /run/youngvae-slurmctld.pid; do
        if pid_alive "$f"; then
            pid="$(cat "$f")"
            kill "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        fi
        rm -f "$f"
    done
}

stop() {
    [[ $EUID -eq 0 ]] || die "run as root (sudo)"
    stop_slurm_daemons
    if [[ -f $CONF ]] && grep -qF "$MARKER" "$CONF" && pid_alive /run/munge/munged.pid; then
        kill "$(cat /run/munge/munged.pid)"
    fi
    log "stopped"
}

status() {
    pid_alive /run/youngvae-slurmctld.pid && pid_alive /run/youngvae-slurmd.pid || {
        log "not running"
        exit 1
    }
    sinfo
}

case "$ACTION" in
start) start ;;
stop) stop ;;
status) status ;;
*) die "usage: $0 [start|stop|status]" ;;
esac
