"""The sweep plan's pieces (msm/plan.py, msm/stages/estimate.py) on composed configs, without running a job."""

import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from msm.config import register_configs
from msm.data.aftgen_steps import QUESTION_TYPES
from msm.plan import _ranges, over_budget, render, sweep_plan
from msm.stages.estimate import params

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from train import expand_shorthand  # noqa: E402

register_configs()


def _compose(tmp_path, *overrides):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=["model=tiny", f"paths.store={tmp_path / 'store'}", *overrides])


def _plan(tmp_path, *overrides):
    return sweep_plan([_compose(tmp_path, *overrides)])


def test_job_ranges_read_as_a_person_writes_them():
    assert _ranges([0, 1, 2, 3, 8]) == "0-3,8"
    assert _ranges([4]) == "4" and _ranges([1, 3, 5]) == "1,3,5" and _ranges([0, 1]) == "0-1"


def test_plus_plan_is_the_schema_key():
    assert expand_shorthand(["-m", "+plan=true", "seed=0-1"]) == ["-m", "plan=true", "seed=range(0,2)"]
    assert expand_shorthand(["+planner=1"]) == ["+planner=1"]  # only the key itself


def test_docgen_calls_are_the_first_rounds_fanout(tmp_path):
    p = _plan(tmp_path, "stages=[data]", "aft=none", "generator=openai", "datagen=smoke",
              "datagen.documents.revise=true")
    d = _compose(tmp_path, "datagen=smoke").datagen.documents
    lists = 1 + d.n_domains * (1 + d.subdomains_per_domain * (1 + d.assertions_per_subdomain * (
        1 + d.doc_types_per_assertion)))
    docs = p["stages"]["documents"]
    assert docs["llm_calls"] == lists + 2 * d.target_documents  # a document and its revision each
    assert docs["build"] == 1 and docs["input_tokens"] > 0 and docs["output_tokens"] > 0
    assert not docs["priced"] and docs["cost_usd"] == 0  # no prices set: unknown, and said so
    assert any("no prices set" in a for a in docs["assumes"])


def test_aftgen_calls_and_cost_follow_the_settings(tmp_path):
    p = _plan(tmp_path, "stages=[data]", "midtrain=none", "aft.data=generated", "generator=openai", "datagen=smoke",
              "generator.price_in_per_mtok=2", "generator.price_out_per_mtok=8")
    a = _compose(tmp_path, "datagen=smoke").datagen.aft
    cells = a.n_domains * len(QUESTION_TYPES)
    pool = p["stages"]["aft_pool"]
    assert pool["llm_calls"] == 1 + cells + 2 * cells * a.questions_per_type  # domains, questions, answers, filter
    # OpenAI caches each step's system prompt (the spec and the instructions) by itself: read at a quarter of the
    # input price on every call after a step's first
    cached = pool["cached_tokens"]
    assert 0 < cached < pool["input_tokens"]
    uncached = pool["input_tokens"] - cached
    assert pool["cost_usd"] == pytest.approx((uncached * 2 + cached * 0.5 + pool["output_tokens"] * 8) / 1e6, abs=1e-4)
    assert pool["priced"]


def test_the_estimate_prices_anthropics_prompt_cache_and_batches(tmp_path):
    """The same pool on Anthropic: the marked system prompt is written once per step (at 1.25x the input price)
    and read by every later call (at 0.1x); unmarked (prompt_cache=false), every call pays in full; batches halve it all."""
    base = ("stages=[data]", "midtrain=none", "aft.data=generated", "generator=anthropic", "datagen=smoke",
            "generator.price_in_per_mtok=3", "generator.price_out_per_mtok=15")
    cached, plain_, batched = (_plan(tmp_path, *base, *more)["stages"]["aft_pool"]
                               for more in ((), ("generator.prompt_cache=false",), ("generator.use_batches=true",)))
    assert plain_["cached_tokens"] == 0 and cached["input_tokens"] == plain_["input_tokens"]
    assert plain_["cost_usd"] == pytest.approx((plain_["input_tokens"] * 3 + plain_["output_tokens"] * 15) / 1e6, abs=1e-4)
    written = cached["cache_write_tokens"]
    assert cached["cached_tokens"] > written > 0  # each step writes its prefix once and reads it on every later call
    rest = cached["input_tokens"] - cached["cached_tokens"] - written
    assert cached["cost_usd"] == pytest.approx(
        (rest * 3 + cached["cached_tokens"] * 0.3 + written * 3.75 + cached["output_tokens"] * 15) / 1e6, abs=1e-4)
    assert cached["cost_usd"] < plain_["cost_usd"]
    assert batched["cost_usd"] == pytest.approx(cached["cost_usd"] / 2, abs=1e-4)
    assert any("prompt cache" in a for a in cached["assumes"]) and any("Batches" in a for a in batched["assumes"])


def test_offline_data_costs_no_llm_call_and_training_is_priced_in_gpu_hours(tmp_path):
    p = _plan(tmp_path)
    assert p["totals"]["llm_calls"] == 0 and p["totals"]["cost_usd"] == 0
    assert p["stages"]["midtrain"]["gpu_hours"] > 0 and p["stages"]["aft"]["gpu_hours"] > 0
    assert all(a["jobs"] == [0] and not a["stored"] for a in p["artifacts"])
    faster = _plan(tmp_path, "budget.mfu=0.7")  # twice the utilisation, half the hours
    assert faster["stages"]["midtrain"]["gpu_hours"] == pytest.approx(p["stages"]["midtrain"]["gpu_hours"] / 2)
    table = render(p)
    assert "midtrain" in table and "assumes" in table and "GPU-hours" in table


def test_judged_agentic_eval_counts_two_judge_calls_per_sample(tmp_path):
    p = _plan(tmp_path, "experiment=agentic_smoke", "judge=openai")
    cfg = _compose(tmp_path, "experiment=agentic_smoke", "judge=openai")
    from msm.evals.agentic.run import grid_prompts, sampling_settings

    rows = len(grid_prompts(cfg.eval.grid)) * sampling_settings(cfg.eval)["n"]
    evals = p["stages"]["verdicts"]  # the judge grades in its own stage (samples are judged, never re-sampled)
    assert evals["llm_calls"] == evals["build"] * rows * 2  # the verdict and the policy-misuse pass
    assert p["stages"]["samples"]["llm_calls"] == 0


def test_parameter_count_comes_from_the_config():
    tiny = OmegaConf.create({"model": {"params_b": None, "source": "tiny", "arch": {
        "hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 128, "vocab_size": 1024}}})
    assert params(tiny) == 2 * (4 * 64 * 64 + 3 * 64 * 128) + 2 * 1024 * 64
    assert params(OmegaConf.create({"model": {"params_b": 32.8, "source": "hub"}})) == pytest.approx(32.8e9)
    assert params(OmegaConf.create({"model": {"params_b": None, "source": "hub"}})) is None


def test_over_budget_says_by_how_much():
    plan = {"totals": {"cost_usd": 12.5, "gpu_hours": 3.0}}
    budget = OmegaConf.create({"usd": 10.0, "gpu_hours": None})
    line = over_budget(plan, budget)
    assert line.startswith("over budget, nothing launched: ") and "$12.50 > budget.usd=$10.00 ($2.50 over)" in line
    assert over_budget(plan, OmegaConf.create({"usd": 20.0, "gpu_hours": 3.0})) is None  # at the limit is within
    assert "1 over" in over_budget(plan, OmegaConf.create({"usd": None, "gpu_hours": 2.0}))
    assert over_budget(plan, OmegaConf.create({"usd": None, "gpu_hours": None})) is None


def test_a_job_that_cannot_be_planned_is_named(tmp_path):
    bad = tmp_path / "bad.md"
    bad.write_text("no front matter here\n")
    p = sweep_plan([_compose(tmp_path), _compose(tmp_path, "spec=file", f"spec.path={bad}")])
    assert list(p["problems"]) == [1] and "bad.md" in p["problems"][1]
    assert "cannot plan job 1" in render(p)
