#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, running a sweep as a job array (issue 13):
#
#  1. installs Debian's Slurm and munge with apt-get (slurmctld, slurmd, slurm-client,
#     munge), unless they are there already;
#  2. writes a one-node slurm.conf for this machine (from `slurmd -C`), without cgroups or
#     systemd (proctrack/linuxproc, task/none), and starts munged, slurmctld and slurmd as
#     root in the background, all with their own key, socket, ports, state and logs under
#     WORK (a system Slurm or munge, if any, is left alone);
#  3. runs SPEC unsharded, then `--emit-slurm` with 3 shards and submit.sh: the job array
#     and the merge job that depends on it;
#  4. waits for the merge, compares every file of the merged sweep with the unsharded one
#     (`cmp`), prints OK or the differences, and stops the daemons it started.
#
# Usage: scripts/slurm-local.sh [SPEC]   (as root; default experiments/duplicates-vs-degree.json)
# Environment: SHARDS (3), WORK (a new folder under /tmp), PORT (16817: slurmctld; slurmd
#   uses PORT+1), TIMEOUT (seconds to wait for the jobs, 900), GNUTELLA (the binary to
#   run; default: a release build of this repository).
# Not part of CI (it installs packages and starts daemons); `tests/experiment_shards.rs`
# checks the same byte-identity without Slurm.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SPEC=$(realpath "${1:-experiments/duplicates-vs-degree.json}")
SHARDS=${SHARDS:-3}
PORT=${PORT:-16817}
TIMEOUT=${TIMEOUT:-900}

if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-local: run as root (it installs packages and starts slurmctld, slurmd, munged)" >&2
    exit 1
fi

say() { echo "== $*"; }

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurmctld slurmd slurm-client munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi
say "$(slurmd -V), $(munged -V)"

BIN=${GNUTELLA:-$(scripts/release-bin.sh)}
BIN=$(realpath "$BIN")

WORK=${WORK:-$(mktemp -d /tmp/gnutella-slurm.XXXXXX)}
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
# munged insists that every folder above its socket is searchable by all.
chmod 755 "$WORK"
mkdir -p "$WORK"/{etc,run,state,spool,log}
chmod 755 "$WORK/run"
export SLURM_CONF=$WORK/etc/slurm.conf

stop() {
    # Only the daemons this script started, by the pids they wrote; then wait (up to 30 s)
    # until they are gone, so the script ends with nothing left running.
    local pids=()
    for pidfile in "$WORK/run/slurmd.pid" "$WORK/run/slurmctld.pid" "$WORK/run/munged.pid"; do
        if [ -s "$pidfile" ]; then
            pid=$(cat "$pidfile")
            kill "$pid" 2>/dev/null && pids+=("$pid")
        fi
    done
    for _ in $(seq 60); do
        alive=0
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ "$alive" -eq 0 ] && break
        sleep 0.5
    done
    say "daemons stopped; everything is in $WORK"
}
trap stop EXIT

# 2. munge, with a key of its own.
say "starting munged (socket $WORK/run/munge.socket)"
dd if=/dev/urandom of="$WORK/etc/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/etc/munge.key"
munged --socket="$WORK/run/munge.socket" --key-file="$WORK/etc/munge.key" \
    --log-file="$WORK/log/munged.log" --pid-file="$WORK/run/munged.pid" \
    --seed-file="$WORK/run/munged.seed"
munge -S "$WORK/run/munge.socket" -n | unmunge -S "$WORK/run/munge.socket" >/dev/null

# The node as slurmd sees it: NodeName, CPUs, sockets, cores, RealMemory.
NODE_LINE=$(slurmd -C | head -1)
NODE=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$NODE_LINE")
cat >"$SLURM_CONF" <<EOF
# One-node cluster written by scripts/slurm-local.sh: no cgroups, no systemd, no accounting.
ClusterName=gnutella-local
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/run/munge.socket
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/run/slurmctld.pid
SlurmdPidFile=$WORK/run/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
$NODE_LINE State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
say "starting slurmctld and slurmd ($NODE_LINE)"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 1
done
if [ "$state" != idle ]; then
    echo "slurm-local: node $NODE is '${state:-unknown}', not idle; logs in $WORK/log" >&2
    exit 1
fi
sinfo

# 3. The sweep, unsharded and as a job array.
say "unsharded: $BIN experiment $SPEC --out $WORK/unsharded"
"$BIN" --quiet experiment "$SPEC" --out "$WORK/unsharded" >/dev/null
say "emitting a job array of $SHARDS shards"
"$BIN" experiment "$SPEC" --emit-slurm "$WORK/array" --shards "$SHARDS" --jobs 1
submitted=$("$WORK/array/submit.sh")
echo "$submitted"
ARRAY=$(sed -n 's/^submitted job array \([0-9]*\) .*/\1/p' <<<"$submitted")
MERGE=$(sed -n 's/.* and merge job \([0-9]*\) .*/\1/p' <<<"$submitted")
waited=0
while [ -n "$(squeue -h -j "$ARRAY,$MERGE" 2>/dev/null)" ]; do
    if [ "$waited" -ge "$TIMEOUT" ]; then
        echo "slurm-local: jobs still queued after ${TIMEOUT}s:" >&2
        squeue >&2
        exit 1
    fi
    sleep 2
    waited=$((waited + 2))
done
scontrol show job "$MERGE" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || true
for log in "$WORK"/array/logs/*.out; do
    say "$log"
    cat "$log"
done

# 4. Byte for byte.
say "comparing $WORK/unsharded with $WORK/array/merged"
status=0
if [ ! -d "$WORK/array/merged" ]; then
    echo "slurm-local: the merge wrote nothing; logs in $WORK/array/logs and $WORK/log" >&2
    exit 1
fi
for file in "$WORK"/unsharded/*; do
    name=$(basename "$file")
    if cmp "$file" "$WORK/array/merged/$name"; then
        echo "  same: $name"
    else
        status=1
        diff "$file" "$WORK/array/merged/$name" | head -20 || true
    fi
done
extra=$(cd "$WORK/array/merged" && for f in *; do [ -e "$WORK/unsharded/$f" ] || echo "$f"; done)
if [ -n "$extra" ]; then
    echo "only in the merged sweep: $extra"
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "OK: the $SHARDS-task Slurm job array, merged, is byte-identical to the unsharded sweep ($(ls "$WORK/unsharded" | wc -l) files)"
else
    echo "DIFFERENT: see above"
fi
exit "$status"
