"""A job checks everything it can before it spends anything (msm.stages.checks), one line per problem."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from msm.config import register_configs
from msm.paths import CONF_DIR
from msm.stages import checks

register_configs()


def problems(*overrides: str) -> list[str]:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides))
    return checks.problems(cfg)


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MY_KEY"):
        monkeypatch.delenv(var, raising=False)


def test_midtraining_may_split_documents_across_rows():
    assert problems("model=tiny", "midtrain.packing=split") == []


def test_the_shipped_defaults_have_no_problem():
    assert problems() == [] and problems("model=tiny") == [] and problems("model=tiny", "experiment=agentic_smoke") == []


def test_a_paid_generator_without_its_key_names_the_variable():
    [line] = problems("model=tiny", "generator=anthropic")
    assert "ANTHROPIC_API_KEY" in line and "generator.api_key_env" in line


def test_a_key_set_under_another_name_is_found(monkeypatch):
    monkeypatch.setenv("MY_KEY", "test-not-a-key")
    assert problems("model=tiny", "generator=anthropic", "generator.api_key_env=MY_KEY") == []


def test_a_key_pasted_into_api_key_env_is_refused_without_being_echoed():
    [line] = problems("model=tiny", "generator=openai", "generator.api_key_env=sk-abc123secret")
    assert "NAME of an environment variable" in line and "sk-abc123secret" not in line


def test_a_local_openai_compatible_server_needs_no_key():
    assert problems("model=tiny", "generator=openai", "generator.base_url=http://localhost:8000/v1") == []


def test_the_generator_is_checked_only_when_the_job_asks_it_for_something():
    assert problems("model=tiny", "generator=anthropic", "midtrain=none", "aft=none") == []
    assert problems("model=tiny", "generator=anthropic", "midtrain=none", "aft.data=cheese") == []
    assert len(problems("model=tiny", "generator=anthropic", "midtrain=none", "aft.data=generated")) == 1


def test_a_judge_is_checked_only_for_an_agentic_eval():
    assert problems("model=tiny", "judge=openai") == []  # the cheese eval reads no judge
    [line] = problems("model=tiny", "experiment=agentic_smoke", "judge=openai", "judge.model=null",
                      "judge.base_url=http://localhost:1/v1")
    assert line.startswith("judge.model is not set")
    assert problems("model=tiny", "experiment=agentic_smoke", "judge=openai", "stages=[data,midtrain]") == []


def test_every_problem_is_reported_at_once():
    found = problems("model=tiny", "experiment=agentic_smoke", "generator=anthropic", "judge=anthropic",
                     "eval.sampler=openai", "eval.grid=nonesuch", "aft_scale.rows=0", "spec=file",
                     "spec.path=/no/such/spec.md")
    joined = "\n".join(found)
    for expected in ("/no/such/spec.md", "generator.api_key_env", "judge.api_key_env", "eval.sampler_base_url",
                     "unknown grid 'nonesuch'", "aft_scale.rows=0"):
        assert expected in joined, (expected, found)
    assert len(found) == 6


@pytest.mark.parametrize("overrides, message", [
    (["model=qwen3_32b", "model.name_or_path=/no/such/folder"], "no model folder there"),
    (["model=qwen3_32b", "model.name_or_path=null"], "needs model.name_or_path"),
    (["model=tiny", "model.arch.vocab_size=100"], "vocab_size=100 is too small"),
    (["model=tiny", "model.chat_template=nonesuch"], "unknown chat template 'nonesuch'"),
    (["model=tiny", "datagen.documents.target_documents=0"], "the corpus would be empty"),
    (["model=tiny", "eval.families=[]"], "eval.families is empty"),
    (["model=tiny", "aft.packing=split"], "AFT packs whole chats"),
])
def test_what_the_schema_cannot_know_is_checked(overrides, message):
    [line] = problems(*overrides)
    assert message in line


def test_an_uncached_hub_model_fails_when_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    [line] = problems("model=qwen3_32b")
    assert "Qwen/Qwen3-32B" in line and "not in the local hub cache" in line


def test_a_data_only_job_needs_no_model():
    assert problems("model=qwen3_32b", "model.name_or_path=/no/such/folder", "stages=[data]") == []


def test_stages_must_be_a_prefix():
    [line] = problems("stages=[aft,eval]")
    assert "prefix" in line
    # [eval] alone evaluates what a job brings; a stage that would train is named (issue: bring your own)
    assert problems("model=tiny", "stages=[eval]") == [
        f"stages=[eval] trains nothing, but {s}={o} would train: bring its checkpoint ({s}=adapter {s}.adapter=...) "
        f"or set {s}=none" for s, o in (("midtrain", "lora"), ("aft", "cot"))]
    assert problems("model=tiny", "stages=[eval]", "midtrain=none", "aft=none") == []  # the untrained model


def test_a_key_the_schema_does_not_know_is_refused_with_a_suggestion():
    [line] = problems("model=tiny", "+midtrain.lrr=1")
    assert line.startswith("midtrain.lrr: not a setting msm knows (did you mean midtrain.lr?)")
    [line] = problems("model=tiny", "+sede=3")
    assert line.startswith("sede: not a setting msm knows (did you mean seed?)")
    assert problems("model=tiny", "midtrain.lr=2e-4") == []


@pytest.mark.parametrize("overrides, pool", [(["aft.data=cheese"], "only 5100"),
                                             (["spec=philosophy", "datagen.aft.target_rows=50"], "at most 50")])
def test_aft_scale_is_checked_against_its_pool_before_any_stage(overrides, pool):
    [line] = problems("model=tiny", "aft_scale.rows=100000", *overrides)
    assert line.startswith("aft_scale.rows=100000: the AFT pool") and pool in line
    assert problems("model=tiny", "aft_scale.rows=32", *overrides) == []
    assert problems("model=tiny", "aft_scale.rows=100000", "stages=[data]", *overrides) == []  # no AFT: no draw


@pytest.mark.parametrize("override, message", [
    ("seed=-1", "seed=-1: a seed is 0 to 4294967295"),
    ("seed=1099511627776", "seed=1099511627776: a seed is 0 to 4294967295"),
    ("threads=100000", "threads=100000: a positive number of torch threads, at most 4 x"),
    ("threads=-1", "threads=-1: a positive number of torch threads"),
    ("midtrain.batch_size=0", "midtrain.batch_size=0: at least 1 packed row per step"),
    ("aft.lr=0", "aft.lr=0.0: a learning rate is positive"),
    ("eval.max_items=0", "eval.max_items=0: at least 1 item, or null for every item"),
    ("spec=file", "spec=file needs spec.path: python train.py spec=file spec.path="),
])
def test_out_of_range_numbers_and_a_missing_spec_path_are_named(override, message):
    found = problems("model=tiny", override)
    assert len(found) == 1 and found[0].startswith(message), found


def test_a_stage_that_does_not_run_is_not_range_checked():
    assert problems("model=tiny", "midtrain=none", "midtrain.batch_size=0") == []
