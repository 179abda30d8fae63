#!/usr/bin/env bash
# Stop the cluster scripts/slurm/start.sh started: cancel every job first (job processes outlive slurmd),
# then stop each daemon by the PID start.sh recorded, after checking the process is still that daemon.
set -uo pipefail

DIR="${MSM_SLURM_DIR:-/tmp/msm-slurm}"
[ -d "$DIR/pids" ] || { echo "[slurm] nothing to stop ($DIR/pids does not exist)"; exit 0; }

if command -v scancel >/dev/null && [ -f "$DIR/pids/slurmctld.pid" ]; then
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
fi

for name in slurmd slurmctld slurmdbd mariadbd munged; do
    file="$DIR/pids/$name.pid"
    [ -f "$file" ] || continue
    pid=$(cat "$file")
    # start.sh launched some daemons through setpriv, which execs: the PID is the daemon's own
    if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$name" ]; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "[slurm] stopped $name (pid $pid)"
    fi
    rm -f "$file"
done
