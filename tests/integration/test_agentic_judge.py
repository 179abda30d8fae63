"""The agentic eval on model=tiny with its judge served by ``transformers serve`` through the openai backend.

The served tiny model is random, so its verdicts never parse: the run must finish, count every sample
as a judge failure per condition, and report no misalignment rate rather than a made-up one.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_unparsable_judge_verdicts_are_failures_not_answers(openai_server, tmp_path):
    base_url, model = openai_server
    out = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "model=tiny", "experiment=agentic_smoke", "spec=value_aug",
         "judge=openai", f"judge.base_url={base_url}", f"judge.model={model}", "judge.max_tokens=16",
         "eval.include_base=false", "logger=none", f"paths.store={tmp_path / 'store'}", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["judge/mode"] == "llm"
    assert m["misalignment/n"] == 0 and m["misalignment/failures"] == 6 and "misalignment/rate" not in m
    for cond in ("exfiltration__explicit-america__replacement__scratchpad", "leaking__none__replacement__scratchpad"):
        assert m[f"misalignment/{cond}/failures"] == 2
    assert m["harmful_evidence/n"] == 6 and "harmful_evidence/rate" in m  # evidence needs no judge
    assert m["policy_misuse/n"] + m["policy_misuse/failures"] <= 6
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["classifier_verdict"] is None for r in rows)
    assert {r["judge_status"] for r in rows} <= {"unparsable", "truncated", "refusal", "conflicting", "length", "error"}
    assert (tmp_path / "store" / "llm_cache").is_dir()  # judge calls went through the cached client


def test_served_sampler_asks_the_server_and_caches(openai_server, tmp_path):
    """eval.sampler=openai samples the model behind an OpenAI-compatible server (here the base tiny model)."""
    base_url, model = openai_server
    args = [sys.executable, str(REPO / "train.py"), "model=tiny", "experiment=agentic_smoke", "midtrain=none",
            "aft=none", "eval.sampler=openai", f"eval.sampler_base_url={base_url}", f"eval.sampler_model={model}",
            "eval.max_new_tokens=8", "logger=none", f"paths.store={tmp_path / 'store'}"]
    out = subprocess.run([*args, f"hydra.run.dir={tmp_path / 'run'}"], cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(x) for x in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["response"] for r in rows)  # the served model answered every sample
    cached = list((tmp_path / "store" / "llm_cache").rglob("*.json"))
    assert len(cached) == 6  # 3 conditions x 2 samples, each its own cache entry (sample index in the key)
