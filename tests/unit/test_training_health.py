"""The training-health guards: updates planned as the Trainer counts them, warnings, and train.strict."""

from __future__ import annotations

import json

import pytest
from hydra import compose, initialize_config_dir

from msm.config import HealthConfig, register_configs
from msm.errors import MsmError
from msm.paths import CONF_DIR
from msm.train import loop, recipes

register_configs()


def _cfg(*overrides):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=["model=tiny", "midtrain.lora.r=4", "midtrain.lora.alpha=8", *overrides])


def _docs(tmp_path, n=12):
    path = tmp_path / "documents.jsonl"
    path.write_text("".join(json.dumps({"text": f"Document {i}: the assistant values honesty. " * 20}) + "\n"
                            for i in range(n)))
    return path


def test_planned_updates_are_what_the_trainer_makes_and_a_short_stage_is_flagged(tmp_path, tiny_model_dir, caplog):
    cfg = _cfg("midtrain.batch_size=3", "midtrain.grad_accum=2", "midtrain.epochs=2", "midtrain.logging_steps=1")
    work = tmp_path / "w"
    work.mkdir()
    stats = recipes.midtrain(work, {"base": str(tiny_model_dir), "adapter": None}, _docs(tmp_path), cfg.midtrain,
                             cfg.model, 0, lambda r: None, HealthConfig(min_updates=20))
    assert stats["steps"] == loop.planned_updates(stats["rows"], cfg.midtrain)
    assert stats["tokens_per_update"] == pytest.approx(stats["tokens_seen"] / stats["steps"], abs=0.1)
    assert stats["loss_start"] is not None and stats["final_loss"] is not None
    assert stats["health"].startswith("warning: midtrain: only") and "train.min_updates=20" in stats["health"]
    assert "only" in caplog.text  # said on the console too


def test_strict_refuses_a_stage_with_too_few_updates_before_training(tmp_path, tiny_model_dir):
    cfg = _cfg("midtrain.batch_size=8")
    work = tmp_path / "w"
    work.mkdir()
    with pytest.raises(MsmError, match=r"make \d+ optimizer updates, fewer than train.min_updates=50"):
        recipes.midtrain(work, {"base": str(tiny_model_dir), "adapter": None}, _docs(tmp_path), cfg.midtrain, cfg.model,
                         0, lambda r: None, HealthConfig(min_updates=50, strict=True))
    assert not (work / "checkpoints").exists()  # nothing was trained


@pytest.mark.parametrize("stats, healthy, problem", [
    ({"steps": 40, "loss_start": 2.0, "final_loss": 1.5}, True, None),
    ({"steps": 5, "loss_start": 2.0, "final_loss": 1.5}, False, "only 5 optimizer updates"),
    ({"steps": 40, "loss_start": 2.0, "final_loss": 2.1}, False, "did not fall (2.0000 -> 2.1000)"),
])
def test_assess(stats, healthy, problem):
    got = loop.assess(stats, HealthConfig(), "aft")
    assert (got == "ok") == healthy and (problem is None or problem in got)
    if not healthy:
        with pytest.raises(MsmError, match="train.strict=true: nothing was published"):
            loop.assess(stats, HealthConfig(strict=True), "aft")
