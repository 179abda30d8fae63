"""A sweep of the tiny model through ``hydra/launcher=slurm`` on a real Slurm cluster (slurmctld, slurmd,
slurmdbd over MariaDB, munge): every job runs as an array task, a bad cell fails without stopping the
others, tasks that need the same stage at the same time build it once, and each job records its Slurm id."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import REPO, read_json, run_train

pytestmark = pytest.mark.slow

# Slurm resources for the tiny model on the test node (the preset asks for a GPU node).
SLURM = ["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.gpus_per_node=0",
         "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=30"]


def test_a_sweep_through_slurm_runs_every_cell_and_shares_its_stages(tmp_path):
    sweep, store = tmp_path / "sweep", tmp_path / "store"
    out = run_train(["-m", *SLURM, "model=tiny", "seed=0,1", "aft_scale.rows=32,100000",
                     "datagen.documents.target_documents=40", "eval.max_items=60", "logger=wandb", "threads=1",
                     f"paths.store={store}", f"hydra.sweep.dir={sweep}"], timeout=900)
    jobs = sorted((p for p in sweep.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    assert len(jobs) == 4, out.stderr[-3000:]
    states = {j.name: read_json(j / "status.json") for j in jobs}
    good = [j for j in jobs if states[j.name]["status"] == "finished"]
    bad = [j for j in jobs if states[j.name]["status"] == "failed"]
    assert len(good) == 2 and len(bad) == 2, states
    assert all(states[j.name]["error"].startswith("aft_scale.rows=100000") for j in bad)
    assert out.returncode != 0 and "2 job(s) finished, 2 failed" in out.stdout, out.stdout[-2000:]

    ids = set()
    for job in good:
        metrics = read_json(job / "metrics.json")
        assert metrics["aft_scale"] == 32 and "target/rate" in metrics and "base/target/rate" in metrics
        assert list(job.glob("wandb/offline-run-*")), "each job's W&B run folder"
        slurm = read_json(job / "provenance.json")["slurm"]
        assert slurm and slurm["job_id"] and slurm["restarts"] == 0
        ids.add(slurm["job_id"])
    assert len(ids) == 2  # two array tasks, each its own Slurm job id

    # The two seeds share their data and base model; both tasks ran at once, one built each shared stage.
    records = [a for job in good for a in read_json(job / "artifacts.json")]
    for stage in ("documents", "aft_pool", "base_model"):
        mine = [a for a in records if a["stage"] == stage]
        assert len({a["key"] for a in mine}) == 1 and sum(a["built"] for a in mine) == 1, (stage, mine)


def test_the_jobs_outlive_a_killed_launcher_and_status_and_collect_report_them(tmp_path):
    """The launching shell dies mid-sweep (SIGKILL: no end-of-sweep step runs); the array runs on;
    ``python -m msm.sweep status`` follows it and ``collect`` does the end-of-sweep step afterwards."""
    sweep = tmp_path / "sweep"
    launcher = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), "-m", *SLURM, "model=tiny", "seed=0,1", "aft_scale.rows=32",
         "datagen.documents.target_documents=40", "eval.max_items=60", "logger=none", "threads=1",
         f"paths.store={tmp_path / 'store'}", f"hydra.sweep.dir={sweep}"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while len(list(sweep.glob(".submitit/*/*_submitted.pkl"))) < 2:
        assert launcher.poll() is None and time.time() < deadline, "the array was not submitted"
        time.sleep(0.2)
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.wait()

    def sweep_cli(*args):
        return subprocess.run([sys.executable, "-m", "msm.sweep", *args, str(sweep)], cwd=REPO,
                              capture_output=True, text=True, timeout=300)

    seen = set()
    deadline = time.time() + 600
    while True:
        status = sweep_cli("status")
        assert status.returncode == 0, status.stderr
        jobs_table = status.stdout.split("\n\n")[0]  # then the plan's estimate beside the actual (plan.json)
        rows = [line.split() for line in jobs_table.splitlines()[1:-1]]
        seen |= {r[1] for r in rows}
        if len(rows) == 2 and all(r[1] == "done" for r in rows):
            break
        assert time.time() < deadline, status.stdout
        time.sleep(2)
    assert seen & {"queued", "running", "not"}, "status saw the jobs before they were done"
    assert all(re.fullmatch(r"\d+_[01]", r[3]) for r in rows)  # each job's array task id
    collected = sweep_cli("collect")
    assert collected.returncode == 0, collected.stdout[-2000:] + collected.stderr[-2000:]
    assert "2 job(s) finished, 0 failed" in collected.stdout
