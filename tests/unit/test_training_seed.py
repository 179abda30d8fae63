"""The LoRA initialisation is seeded from the job's seed alone, not from whatever the global RNG holds.

The same job must give the same adapter whether or not something consumed random numbers before it
trained (another stage, a shuffle, a library): run the MSM recipe twice on the real tiny model, once
after drawing from torch's global RNG, and compare the saved adapters byte for byte.
"""

from __future__ import annotations

import json

import torch
from hydra import compose, initialize_config_dir

from msm.config import register_configs
from msm.paths import CONF_DIR
from msm.train import recipes

register_configs()


def _midtrain(tmp_path, tiny_model_dir, name: str, seed: int, disturb: bool = False) -> bytes:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["model=tiny", "midtrain.max_steps=2", "midtrain.batch_size=2",
                                          "midtrain.lora.r=4", "midtrain.lora.alpha=8", "midtrain.logging_steps=1"])
    docs = tmp_path / "documents.jsonl"
    docs.write_text("".join(json.dumps({"text": f"Document {i} says the assistant values honesty and care."}) + "\n"
                            for i in range(8)))
    work = tmp_path / name
    work.mkdir()
    torch.manual_seed(1234)  # what the pipeline's set_seed leaves behind
    if disturb:
        torch.rand(10_000)  # extra work between the job's set_seed and its LoRA init draws random numbers
    recipes.midtrain(work, {"base": str(tiny_model_dir), "adapter": None}, docs, cfg.midtrain, cfg.model, seed,
                     lambda record: None)
    return (work / "adapter" / "adapter_model.safetensors").read_bytes()


def test_same_job_gives_byte_identical_adapters_whatever_ran_before(tmp_path, tiny_model_dir):
    plain = _midtrain(tmp_path, tiny_model_dir, "plain", seed=0)
    assert _midtrain(tmp_path, tiny_model_dir, "disturbed", seed=0, disturb=True) == plain


def test_the_adapter_depends_on_the_seed(tmp_path, tiny_model_dir):
    assert _midtrain(tmp_path, tiny_model_dir, "s0", seed=0) != _midtrain(tmp_path, tiny_model_dir, "s1", seed=1)
