"""``eval.sampler=vllm`` end to end on a GPU: the check a GPU session runs, skipped everywhere else.

    python -m venv ~/vllm-env && ~/vllm-env/bin/pip install vllm==0.33.0
    MSM_VLLM_PYTHON=~/vllm-env/bin/python .venv/bin/python -m pytest tests/gpu

It trains the embedded SmolLM2-135M through MSM and AFT (so the eval carries a LoRA adapter), samples
the smoke grid with vLLM's offline engine, and checks what the CPU tests cannot: that the engine
starts on the job's weights, applies the adapter, returns every sample, and is reproducible.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from tests.e2e.conftest import read_json, run_train

VLLM_PYTHON = os.environ.get("MSM_VLLM_PYTHON")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not (VLLM_PYTHON and torch.cuda.is_available()),
                       reason="needs a CUDA GPU and MSM_VLLM_PYTHON (an interpreter with vllm installed)"),
]


def _job(tmp_path: Path, run: str, sampler: str):
    out = run_train(["experiment=agentic_smoke", f"eval.sampler={sampler}", f"eval.vllm.python={VLLM_PYTHON}",
                     "eval.max_new_tokens=128", "logger=none", f"paths.store={tmp_path / 'store'}",
                     f"hydra.run.dir={tmp_path / run}"], timeout=1800)
    assert out.returncode == 0, out.stderr[-4000:]
    rows = [json.loads(x) for x in (tmp_path / run / "samples.jsonl").read_text().splitlines()]
    return read_json(tmp_path / run / "metrics.json"), rows


def test_vllm_samples_the_trained_adapter_reproducibly(tmp_path):
    metrics, rows = _job(tmp_path, "first", "vllm")
    assert metrics["arm"] == "msm_aft" and metrics["harmful_evidence/n"] == 6
    trained = [r for r in rows if r["model_role"] == "trained"]
    base = [r for r in rows if r["model_role"] == "base"]
    assert len(trained) == len(base) == 6 and all(r["response"].strip() for r in rows)
    assert [r["response"] for r in trained] != [r["response"] for r in base]  # the adapter changed the model

    shutil.rmtree(tmp_path / "store" / "eval")  # sample again from the same weights and seeds
    _, again = _job(tmp_path, "second", "vllm")
    assert [r["response"] for r in again] == [r["response"] for r in rows]
