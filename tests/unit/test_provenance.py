"""Every job records where it came from: commit and dirty tree, packages, host, Slurm ids and restarts."""

import subprocess

from msm import provenance


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_git_state_reports_the_commit_and_a_dirty_tree(tmp_path, monkeypatch):
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "one")
    monkeypatch.setattr(provenance, "REPO", tmp_path)
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    clean = provenance.git_state()
    assert clean["commit"] == head and clean["dirty"] is False and clean["changed_files"] == 0
    (tmp_path / "a.py").write_text("x = 2\n")
    (tmp_path / "new.py").write_text("")
    dirty = provenance.git_state()
    assert dirty["commit"] == head and dirty["dirty"] is True and dirty["changed_files"] == 2


def test_outside_a_checkout_git_fields_are_null(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "REPO", tmp_path)
    assert provenance.git_state()["commit"] is None and provenance.git_state()["dirty"] is None


def test_slurm_ids_and_restart_count():
    assert provenance.slurm({"PATH": "/bin"}) is None
    env = {"SLURM_JOB_ID": "812", "SLURM_ARRAY_JOB_ID": "810", "SLURM_ARRAY_TASK_ID": "2", "SLURM_RESTART_COUNT": "3"}
    assert provenance.slurm(env) == {"job_id": "812", "array_job_id": "810", "array_task_id": "2",
                                     "restart_count": "3", "restarts": 3}
    assert provenance.slurm({"SLURM_JOB_ID": "9"})["restarts"] == 0


def test_collect_names_the_packages_that_shape_a_run():
    record = provenance.collect({"seed": 1}, {})
    assert {"python", "torch", "transformers", "peft", "hydra-core"} <= set(record["packages"])
    assert record["config"] == {"seed": 1} and record["slurm"] is None and record["host"]
