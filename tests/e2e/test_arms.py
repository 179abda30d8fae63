"""The paper's arms are settings: baseline, AFT only, MSM (full fine-tuning) only, MSM + AFT (no CoT)."""

import pytest

from .conftest import TINY, job_dirs, read_json, run_train

pytestmark = pytest.mark.slow


def test_four_arms_one_sweep(tmp_path, shared_store):
    out = run_train(["-m", "midtrain=none,full", "aft=none,no_cot", *TINY, f"paths.store={shared_store}",
                     f"hydra.sweep.dir={tmp_path}/sweep", "logger=none"])
    assert out.returncode == 0, out.stderr[-3000:]
    records = {read_json(j / "metrics.json")["arm"]: read_json(j / "metrics.json") for j in job_dirs(tmp_path / "sweep")}
    assert set(records) == {"baseline", "aft_only", "msm_only", "msm_aft"}
    base = records["baseline"]
    assert base["affordability/rate"] == base["base/affordability/rate"]  # the baseline *is* the base model
    assert base["aft_scale"] is None and "train/midtrain/loss" not in base and "train/aft/loss" not in base
    assert "train/midtrain/loss" in records["msm_only"] and "train/aft/loss" not in records["msm_only"]
    assert "train/aft/loss" in records["aft_only"] and "train/midtrain/loss" not in records["aft_only"]
    for arm in ("aft_only", "msm_only", "msm_aft"):  # training moved the model off the base
        r = records[arm]
        assert r["affordability/p_aligned"] != base["affordability/p_aligned"], arm


def test_aft_continues_the_msm_adapter(tmp_path, shared_store):
    """AFT after LoRA MSM trains the same adapter: same trainable parameter count, no second adapter."""
    out = run_train([*TINY, f"paths.store={shared_store}", f"hydra.run.dir={tmp_path}/run", "logger=none"])
    assert out.returncode == 0, out.stderr[-3000:]
    arts = {a["stage"]: a["key"] for a in read_json(tmp_path / "run" / "artifacts.json")}
    mid = read_json(shared_store / "midtrain" / arts["midtrain"] / "manifest.json")
    aft = read_json(shared_store / "aft" / arts["aft"] / "manifest.json")
    assert aft["inputs"]["model"] == f"midtrain/{arts['midtrain']}"
    assert aft["info"]["trainable_params"] == mid["info"]["trainable_params"] > 0
    assert (shared_store / "aft" / arts["aft"] / "adapter" / "adapter_config.json").is_file()
    assert not (shared_store / "aft" / arts["aft"] / "adapter" / "default").exists()
