#!/usr/bin/env bash
# Start a real single-node Slurm cluster with accounting on this machine (Debian packages: munge, MariaDB,
# slurmdbd, slurmctld, slurmd), for the Slurm integration tests and for trying hydra/launcher=slurm locally.
#
#   sudo scripts/slurm/start.sh          # installs what is missing, starts the daemons, waits for an idle node
#   sudo scripts/slurm/stop.sh           # cancels the jobs, stops exactly the processes start.sh started
#
# Everything it creates lives under $MSM_SLURM_DIR (default /tmp/msm-slurm): state, spool, logs, the
# MariaDB data folder and one PID file per daemon; the configs go to /etc/slurm (where sbatch and submitit
# look). No systemd is assumed: each daemon runs in the foreground of a background process whose PID is
# recorded, and stop.sh stops only those PIDs. Needs root. Idempotent: a running cluster is left as it is.
set -euo pipefail

DIR="${MSM_SLURM_DIR:-/tmp/msm-slurm}"
NODE="$(hostname -s)"
CPUS="${MSM_SLURM_CPUS:-8}"   # advertised (config_overrides): more than the cores, so test jobs run side by side
PARTITION=debug
log() { echo "[slurm] $*"; }
die() { echo "[slurm] error: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts daemons)"

alive() { [ -f "$DIR/pids/$1.pid" ] && kill -0 "$(cat "$DIR/pids/$1.pid")" 2>/dev/null; }
if alive slurmctld && alive slurmd && sinfo -h -o %T 2>/dev/null | grep -qx idle; then
    log "already running (state in $DIR)"; exit 0
fi
if command -v scontrol >/dev/null && scontrol ping >/dev/null 2>&1; then
    die "another Slurm controller already answers here (not started from $DIR): stop it first, or use it as it is"
fi

# --- packages --------------------------------------------------------------------------------------------
need=()
for pkg in munge slurmctld slurmd slurm-client slurmdbd mariadb-server; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

mkdir -p "$DIR"/{pids,logs,state,spool,mysql} /etc/slurm /run/mysqld /run/munge /var/lib/munge /var/log/munge
# MariaDB runs as the mysql user: every folder above its data folder must let it through (mktemp -d makes 0700)
d="$DIR"
while [ "$d" != / ]; do
    if [ "$(( $(stat -c %a "$d" | tail -c 2) & 1 ))" = 0 ]; then chmod o+x "$d"; log "chmod o+x $d (for mysql)"; fi
    d=$(dirname "$d")
done
chown munge:munge /run/munge /var/lib/munge /var/log/munge
chown mysql:mysql "$DIR/mysql" /run/mysqld

# start NAME COMMAND...: run a daemon in the foreground of a background process, record its PID
start() {
    local name=$1; shift
    alive "$name" && return 0
    "$@" >"$DIR/logs/$name.out" 2>&1 &
    echo $! >"$DIR/pids/$name.pid"
}
wait_for() {  # wait_for WHAT SECONDS COMMAND...
    local what=$1 secs=$2; shift 2
    for _ in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    die "$what did not come up in ${secs}s; logs in $DIR/logs"
}

# --- munge (authentication) -------------------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then mungekey --create --force >/dev/null; fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
start munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground
wait_for munged 20 sh -c 'munge -n | unmunge'

# --- MariaDB and slurmdbd (accounting: without it sacct fails and submitit cannot see a killed job) -------------
if [ ! -d "$DIR/mysql/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$DIR/mysql" --skip-test-db >"$DIR/logs/mariadb-install.out" 2>&1
fi
start mariadbd setpriv --reuid=mysql --regid=mysql --init-groups /usr/sbin/mariadbd --datadir="$DIR/mysql" \
    --socket=/run/mysqld/mysqld.sock --pid-file="$DIR/mysql/mariadbd.pid" --skip-networking=0 --bind-address=127.0.0.1
wait_for mariadbd 60 mariadb -uroot -e "select 1"
mariadb -uroot -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
                   GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

cat >/etc/slurm/slurmdbd.conf <<EOF
# written by scripts/slurm/start.sh
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
LogFile=$DIR/logs/slurmdbd.log
PidFile=$DIR/state/slurmdbd.pid
EOF
chmod 600 /etc/slurm/slurmdbd.conf
start slurmdbd /usr/sbin/slurmdbd -D
wait_for slurmdbd 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/6819"

# --- slurmctld and slurmd ----------------------------------------------------------------------------------
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
cat >/etc/slurm/slurm.conf <<EOF
# written by scripts/slurm/start.sh: one node at 127.0.0.1, no cgroups, accounting through slurmdbd
ClusterName=msm
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerParameters=bf_interval=2,sched_interval=2
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
# seconds from SIGTERM to SIGKILL on scancel or a time limit (Slurm's default is 30): tests wait on it
KillWait=5
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/state/slurmctld.pid
SlurmdPidFile=$DIR/state/slurmd.pid
SlurmctldLogFile=$DIR/logs/slurmctld.log
SlurmdLogFile=$DIR/logs/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
start slurmctld /usr/sbin/slurmctld -D
wait_for slurmctld 30 scontrol ping
start slurmd /usr/sbin/slurmd -D -N "$NODE"
wait_for "an idle node" 60 sh -c "sinfo -h -o %T | grep -qx idle"
log "up: node $NODE ($CPUS CPUs advertised), partition $PARTITION, state and logs in $DIR"
