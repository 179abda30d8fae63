"""``python -m msm.sweep status`` reads each job's state from the files the pipeline writes (the Slurm side
is tested against the real cluster in tests/slurm)."""

import json

from msm import sweep as sweep_cli


def _job(root, n, status, metrics=False, slurm=None):
    job = root / str(n)
    job.mkdir(parents=True)
    (job / "status.json").write_text(json.dumps(status))
    if metrics:
        (job / "metrics.json").write_text("{}")
    if slurm is not None:
        (job / "provenance.json").write_text(json.dumps({"slurm": slurm}))


def test_each_job_state_from_its_folder(tmp_path, capsys):
    _job(tmp_path, 0, {"status": "finished", "stages": ["data", "midtrain", "aft", "eval"]}, metrics=True)
    _job(tmp_path, 1, {"status": "failed", "error": "aft_scale.rows=100000: the AFT pool holds 264 rows\nmore"})
    _job(tmp_path, 2, {"status": "finished", "stages": ["data"]})
    _job(tmp_path, 3, {"status": "running"}, slurm={"restarts": 2})
    _job(tmp_path, 10, {"status": "interrupted", "error": "interrupted (Ctrl-C); rerun to resume"})
    jobs = {j.number: j for j in sweep_cli.job_states(tmp_path)}
    assert [jobs[n].state for n in (0, 1, 2, 3, 10)] == ["done", "failed", "stopped", "running", "interrupted"]
    assert jobs[1].detail == "aft_scale.rows=100000: the AFT pool holds 264 rows" and jobs[3].restarts == 2
    assert sweep_cli.main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "requeued 2x" in out and out.strip().endswith("5 job(s): 1 done, 1 failed, 1 interrupted, 1 running, 1 stopped")
    assert sweep_cli.main(["status", str(tmp_path / "nope")]) == 2
