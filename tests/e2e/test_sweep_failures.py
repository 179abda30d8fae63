"""A failing cell never stops a sweep: every other job runs, and the sweep counts and names the failures."""

import pytest

from .conftest import job_dirs, read_json, run_train

pytestmark = pytest.mark.slow


def test_a_bad_cell_fails_in_seconds_and_the_sweep_runs_the_rest(tmp_path, shared_store):
    sweep = tmp_path / "sweep"
    out = run_train(["-m", "model=tiny", "midtrain=none", "aft_scale.rows=100000,32", "eval.max_items=20",
                     "logger=none", f"paths.store={shared_store}", f"hydra.sweep.dir={sweep}"])
    assert out.returncode != 0  # the sweep's exit status says a job failed
    bad, good = sweep / "0", sweep / "1"
    status = read_json(bad / "status.json")
    assert status["status"] == "failed" and status["error"].startswith("aft_scale.rows=100000: the AFT pool")
    assert not (bad / "artifacts.json").exists()  # refused before any stage: nothing built, no model loaded
    assert job_dirs(sweep) == [good] and read_json(good / "metrics.json")["aft_scale"] == 32
    assert f"failed: {bad}: aft_scale.rows=100000" in out.stdout
    assert "1 job(s) finished, 1 failed" in out.stdout and "1 job(s) of the sweep failed" in out.stderr
