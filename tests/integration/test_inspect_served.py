"""eval=inspect with the model under test behind a real OpenAI-compatible server (``transformers serve`` over
the tiny model): inspect's ``openai-api`` provider reaches it, and the task's rates land as with the hf
provider (the probe task's scores do not depend on the answers)."""

from pathlib import Path

import pytest

from tests.e2e.conftest import read_json, run_train

PROBE = Path(__file__).resolve().parents[1] / "e2e" / "assets" / "inspect_probe.py"


@pytest.mark.slow
def test_an_inspect_task_scores_a_served_model(openai_server, tmp_path):
    base_url, model = openai_server
    args = ["model=tiny", "midtrain=none", "aft=none", "stages=[eval]", "logger=none", "eval=inspect",
            f"eval.task={PROBE}@probe", "eval.max_new_tokens=4", "eval.sampler=openai",
            f"eval.sampler_base_url={base_url}", f"eval.sampler_model={model}", f"paths.store={tmp_path / 'store'}"]
    refused = run_train([*args, f"hydra.run.dir={tmp_path / 'refused'}"])  # a server serves one model, not two
    assert refused.returncode != 0 and "set eval.include_base=false" in refused.stderr
    out = run_train([*args, "eval.include_base=false", f"hydra.run.dir={tmp_path / 'job'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    m = read_json(tmp_path / "job" / "metrics.json")
    assert (m["inspect/probe/parity/rate"], m["inspect/probe/parity/n"], m["inspect/probe/parity/failures"]) == (0.75, 8, 2)  # 2 epochs (the demo)
    assert "base/inspect/probe/parity/rate" not in m
    (log,) = (tmp_path / "job" / "inspect" / "trained").glob("*.eval")
    from inspect_ai.log import read_eval_log

    assert read_eval_log(str(log)).eval.model == f"openai-api/msm/{model}"


@pytest.mark.slow
def test_msm_serves_each_model_for_its_stage_and_stops_the_server(tmp_path):
    args = ["model=tiny", "datagen.documents.target_documents=20", "aft_scale.rows=16", "logger=none",
            "eval=inspect", f"eval.task={PROBE}@probe", "eval.max_new_tokens=4", "eval.sampler=serve",
            f"paths.store={tmp_path / 'store'}", f"hydra.run.dir={tmp_path / 'job'}"]
    out = run_train(args)
    assert out.returncode == 0, out.stderr[-3000:]
    m = read_json(tmp_path / "job" / "metrics.json")
    assert m["inspect/probe/parity/rate"] == m["base/inspect/probe/parity/rate"] == 0.75
    from inspect_ai.log import read_eval_log

    trained = read_eval_log(str(tmp_path / "job" / "inspect" / "trained" / "all.eval"))
    assert trained.eval.model.startswith("openai-api/msm/") and "served_model" in trained.eval.model
    published = [p.parent for p in (tmp_path / "store" / "inspect").glob("*/manifest.json")]
    assert len(published) == 2 and not any((p / "served_model").exists() for p in published)  # merged copy: gone
    import subprocess

    ps = subprocess.run(["pgrep", "-f", "transformers serve .*served_model"], capture_output=True, text=True)
    assert ps.stdout.strip() == ""  # no server outlives its stage
