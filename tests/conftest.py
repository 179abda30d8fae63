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
