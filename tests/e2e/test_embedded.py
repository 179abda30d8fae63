"""One short job on the embedded SmolLM2-135M: the real converted model through every stage."""

import json

import pytest

from .conftest import read_json, run_train

pytestmark = [pytest.mark.slow, pytest.mark.embedded]


def test_embedded_model_job(tmp_path, shared_store):
    out = run_train(["datagen.documents.target_documents=12", "aft_scale.rows=16", "eval.max_items=34", "midtrain.max_steps=2",
                     "aft.max_steps=2", "midtrain.batch_size=2", "aft.batch_size=2", "model.max_seq_len=256",
                     f"paths.store={shared_store}", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 0, out.stderr[-3000:]
    m = read_json(tmp_path / "run" / "metrics.json")
    assert m["model"] == "smollm2_135m" and m["arm"] == "msm_aft" and m["experiment"] == "demo"
    assert m["affordability/n"] + m["america/n"] == 34 and m["train/midtrain/steps"] == 2 and m["train/aft/steps"] == 2
    assert 0 < m["train/midtrain/loss"] < 20 and 0 < m["train/aft/loss"] < 20  # a pretrained model, not random
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 68 and {r["model_role"] for r in rows} == {"trained", "base"}
