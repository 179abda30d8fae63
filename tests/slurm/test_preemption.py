"""Preemption through Slurm: ``scancel --signal=USR2`` mid-midtraining makes submitit requeue the job
(the hydra-submitit launcher's checkpoint hook); Slurm restarts it, the stage resumes from its last
complete checkpoint, and the published statistics equal an uninterrupted run's exactly."""

import json
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import REPO, read_json, run_train
from tests.slurm.test_slurm_sweep import SLURM

pytestmark = pytest.mark.slow
STATS = ("loss", "loss_start", "final_loss", "steps", "tokens_seen", "rows", "label_tokens_per_epoch")
JOB = ["model=tiny", "aft=none", "stages=[data,midtrain]", "datagen.documents.target_documents=400",
       "midtrain.max_steps=150", "midtrain.save_steps=5", "midtrain.batch_size=2", "threads=1", "logger=wandb"]


def _complete_checkpoint(store) -> bool:
    for state in store.glob("midtrain/.partial/*/checkpoints/checkpoint-*/trainer_state.json"):
        try:
            json.loads(state.read_text())
            return True
        except (OSError, ValueError):
            pass
    return False


def _slurm_job(sweep) -> str:
    """The sweep's own Slurm job, named by the folder submitit made for it: other test files' jobs may share
    the queue, so ``squeue`` alone cannot say which job is this test's."""
    (folder,) = [p for p in (sweep / ".submitit").iterdir() if p.is_dir() and p.name[0].isdigit()]
    return folder.name


def test_usr2_requeues_and_the_resumed_run_matches_an_uninterrupted_one(tmp_path):
    reference = run_train([*JOB, f"paths.store={tmp_path / 'ref'}", f"hydra.run.dir={tmp_path / 'ref_job'}"])
    assert reference.returncode == 0, reference.stderr[-3000:]
    (expected,) = [read_json(p) for p in (tmp_path / "ref").glob("midtrain/[0-9a-f]*/manifest.json")]

    store, sweep = tmp_path / "store", tmp_path / "sweep"
    launcher = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), "-m", *SLURM, "hydra.launcher.timeout_min=60", *JOB,
         f"paths.store={store}", f"hydra.sweep.dir={sweep}"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 300
        while not _complete_checkpoint(store):
            assert launcher.poll() is None and time.time() < deadline, "training ended before it was preempted"
            time.sleep(0.2)
        job_id = _slurm_job(sweep)
        subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
        output, _ = launcher.communicate(timeout=600)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 0, output[-3000:]
    origin = read_json(sweep / "0" / "provenance.json")
    assert origin["slurm"]["restarts"] == 1  # Slurm ran it twice: the requeue happened
    (manifest,) = [read_json(p) for p in store.glob("midtrain/[0-9a-f]*/manifest.json")]
    assert manifest["resumed"] is True and manifest["info"]["resumed_from"].startswith("checkpoint-")
    assert {k: manifest["info"][k] for k in STATS} == {k: expected["info"][k] for k in STATS}

    # W&B: the requeued job continued the same run (one id, two offline run folders), and its history, as
    # msm sent it (history.jsonl mirrors every record), has each training step once, as the uninterrupted run.
    runs = sorted((sweep / "0" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and len({r.name.rsplit("-", 1)[-1] for r in runs}) == 1, runs
    steps = [r["midtrain/step"] for r in _history(sweep / "0") if "midtrain/loss" in r]
    assert steps == sorted(set(steps)) == [r["midtrain/step"] for r in _history(tmp_path / "ref_job") if "midtrain/loss" in r]
    final = [r["midtrain/train_loss"] for r in _history(sweep / "0") if "midtrain/train_loss" in r]
    assert final[-1] == expected["info"]["loss"]  # the whole run's mean, not the Trainer's since-resume figure


def _history(job):
    return [json.loads(line) for line in (job / "history.jsonl").read_text().splitlines()]


def test_scancel_leaves_an_interrupted_status_that_status_and_the_analysis_show(tmp_path):
    """A plain ``scancel`` (SIGTERM, then SIGKILL after Slurm's KillWait, 5 s in the test cluster) in the middle
    of a long midtraining: submitit's handler lets Slurm decide, msm records first. The job's status says
    interrupted by SIGTERM; ``msm.sweep status`` and the analysis list it as interrupted, not as running."""
    store, sweep = tmp_path / "store", tmp_path / "sweep"
    launcher = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), "-m", *SLURM, "hydra.launcher.timeout_min=60", *JOB,
         "midtrain.max_steps=100000",
         f"paths.store={store}", f"hydra.sweep.dir={sweep}"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 300
        while not list(store.glob("midtrain/.partial/*")):
            assert launcher.poll() is None and time.time() < deadline, "the job ended before midtraining"
            time.sleep(0.2)
        job_id = _slurm_job(sweep)
        subprocess.run(["scancel", job_id], check=True)
        launcher.communicate(timeout=300)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    status = read_json(sweep / "0" / "status.json")
    assert status["status"] == "interrupted" and status["signal"] == "SIGTERM", status
    shown = subprocess.run([sys.executable, "-m", "msm.sweep", "status", str(sweep)], cwd=REPO, capture_output=True,
                           text=True)
    assert "interrupted" in shown.stdout + shown.stderr, shown.stdout + shown.stderr
    analysis = subprocess.run([sys.executable, "-m", "analysis", str(sweep)], cwd=REPO, capture_output=True, text=True)
    assert "interrupted" in analysis.stdout + analysis.stderr
