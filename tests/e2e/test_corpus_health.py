"""Every document and AFT-pool artifact carries its corpus-health report; a job reports it, and under
``datagen.strict`` a warning stops the job before anything trains."""

import pytest

from .conftest import read_json, run_train

pytestmark = pytest.mark.slow
JOB = ["model=tiny", "datagen.documents.target_documents=40", "aft.data=generated", "datagen.aft.target_rows=40", "aft_scale.rows=32",
       "logger=none", "datagen.health.min_distinct_2=0.6"]  # a bar templated documents cannot reach (the demo's is 0.25)


def test_data_stages_publish_health_and_the_job_reports_it(tmp_path):
    store = tmp_path / "store"
    out = run_train([*JOB, "stages=[data]", f"paths.store={store}", f"hydra.run.dir={tmp_path / 'job'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    for stage, rows in (("documents", 40), ("aft_pool", None)):
        (manifest,) = [read_json(p) for p in store.glob(f"{stage}/[0-9a-f]*/manifest.json")]
        report = manifest["info"]["corpus_health"]
        assert report["rows"] == (rows or manifest["info"]["rows"])
        assert set(report["rule_coverage"]["per_rule"]) == {f"V{i}" for i in range(1, 5)} | {f"P{i}" for i in range(1, 13)}
    job = read_json(tmp_path / "job" / "health.json")
    assert set(job) == {"documents", "aft_pool"}
    # held to a distinct-2 it does not reach, the corpus says so (reported, not tuned away)
    assert any("distinct-2" in w for w in job["documents"]["warnings"])
    assert "corpus health: documents: distinct-2" in out.stdout + out.stderr  # the job log
    summary = (tmp_path / "job" / "summary.txt").read_text()
    assert "data       documents: distinct-2" in summary and "python -m msm.data.health" in summary


def test_strict_stops_the_job_before_training(tmp_path):
    store = tmp_path / "store"
    out = run_train([*JOB, "datagen.strict=true", f"paths.store={store}", f"hydra.run.dir={tmp_path / 'job'}"])
    assert out.returncode != 0
    assert "corpus health (datagen.strict=true): documents: distinct-2" in out.stderr
    assert "nothing was trained" in out.stderr
    assert not list(store.glob("midtrain/[0-9a-f]*")) and not list(store.glob("base_model/[0-9a-f]*"))
    assert read_json(tmp_path / "job" / "status.json")["status"] == "failed"
