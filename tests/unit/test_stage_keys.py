"""Stage keys without building anything: what changes an artifact's key, and what must not.

``pipeline.plan`` computes every key of a job from its settings and its inputs' keys, so the rules
that decide what a sweep shares (four seeds share a corpus, every aft_scale shares a midtrained model,
specs share a base-model eval without a judge) are checked here in milliseconds. The last tests run
plans through a real store with stub builders: bumping a VERSION rebuilds exactly what depends on it.
"""

from __future__ import annotations

import dataclasses

import pytest
from hydra import compose, initialize_config_dir

from msm import pipeline
from msm.config import register_configs
from msm.data import transforms
from msm.job import resolve, resolve_auto
from msm.paths import CONF_DIR
from msm.specs import resolve_spec
from msm.store import Store
from msm.train import recipes

register_configs()
JOB = ["model=tiny", "experiment=demo"]
AGENTIC = ["model=tiny", "experiment=agentic_smoke"]
STAGES = ("documents", "aft_pool", "base_model", "midtrain", "aft", "eval", "eval_base")


def keys(tmp_path, overrides) -> dict[str, str]:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.store={tmp_path}"])
    job = pipeline.plan(resolve(cfg, Store(tmp_path)))
    return {name: b.key for name, b in job.builds().items()}


def changed(tmp_path, base, *more) -> set[str]:
    """The stages whose key differs between ``base`` and ``base + more``."""
    a, b = keys(tmp_path, base), keys(tmp_path, [*base, *more])
    assert set(a) == set(b)
    return {name for name in a if a[name] != b[name]}


def test_a_job_plans_every_stage_with_distinct_keys(tmp_path):
    k = keys(tmp_path, JOB)
    assert tuple(k) == STAGES and len(set(k.values())) == len(STAGES)
    assert keys(tmp_path, JOB) == k  # planning is deterministic


def test_the_training_seed_never_changes_the_data_or_the_base_model(tmp_path):
    assert changed(tmp_path, JOB, "seed=1") == {"midtrain", "aft", "eval"}  # the cheese eval is deterministic


def test_the_data_seed_changes_the_data_and_everything_trained_on_it(tmp_path):
    assert changed(tmp_path, JOB, "data.seed=1") == {"documents", "midtrain", "aft", "eval", "eval_base"}
    # the fixed cheese chats do not depend on it; the eval draws its item subset with it


def test_aft_scale_changes_only_aft_and_its_eval(tmp_path):
    assert changed(tmp_path, JOB, "aft_scale.rows=64") == {"aft", "eval"}


def test_bookkeeping_settings_never_change_a_key(tmp_path):
    assert changed(tmp_path, JOB, "midtrain.save_steps=7", "midtrain.logging_steps=3", "aft.save_steps=9",
                   "eval.contamination_n=5", "logger=none", "threads=1") == set()
    assert changed(tmp_path, JOB, "midtrain.lr=5e-5") == {"midtrain", "aft", "eval"}


def test_the_spec_changes_its_data_but_not_the_base_model_eval(tmp_path):
    assert changed(tmp_path, JOB, "spec=cheese_america") == {"documents", "midtrain", "aft", "eval"}
    assert changed(tmp_path, AGENTIC, "spec=value_aug") == {"documents", "aft_pool", "midtrain", "aft", "samples",
                                                            "verdicts"}  # the agentic eval: sampled, then judged


def test_a_policy_misuse_judge_reads_the_spec_so_its_base_eval_depends_on_it(tmp_path):
    judged = [*AGENTIC, "judge=openai", "judge.base_url=http://localhost:1/v1"]
    assert "verdicts_base" in changed(tmp_path, judged, "spec=value_aug")
    assert "samples_base" not in changed(tmp_path, judged, "spec=value_aug")  # the base model is sampled once
    assert "verdicts_base" not in changed(tmp_path, [*judged, "eval.policy_misuse=false"], "spec=value_aug")


def test_agentic_evals_sample_with_the_training_seed(tmp_path):
    assert changed(tmp_path, AGENTIC, "seed=1") == {"midtrain", "aft", "samples", "verdicts", "samples_base",
                                                    "verdicts_base"}


def test_how_an_llm_generator_is_reached_never_changes_what_it_wrote(tmp_path):
    llm = [*JOB, "generator=openai", "generator.base_url=http://localhost:1/v1"]
    assert changed(tmp_path, llm, "generator.max_concurrency=2", "generator.rpm=10", "generator.timeout_s=5",
                   "generator.base_url=http://elsewhere:8000/v1", "generator.price_in_per_mtok=1") == set()
    assert "documents" in changed(tmp_path, llm, "generator.temperature=0.5")
    assert "documents" in changed(tmp_path, llm, "generator.model=another")


def test_a_chat_template_shapes_aft_and_evals_not_midtraining(tmp_path):
    assert changed(tmp_path, JOB, "model.chat_template=llama3") == {"aft", "eval", "eval_base"}


def test_stripping_the_think_block_is_in_the_key_only_of_no_cot_aft(tmp_path, monkeypatch):
    monkeypatch.setattr(transforms.strip_think, "version", transforms.strip_think.version + 1, raising=False)
    cot = keys(tmp_path, JOB)
    monkeypatch.undo()
    assert keys(tmp_path, JOB) == cot
    no_cot = keys(tmp_path, [*JOB, "aft=no_cot"])
    monkeypatch.setattr(transforms.strip_think, "version", transforms.strip_think.version + 1, raising=False)
    assert {n for n, k in keys(tmp_path, [*JOB, "aft=no_cot"]).items() if no_cot[n] != k} == {"aft", "eval"}


# ---- a version bump rebuilds exactly what depends on it --------------------------------------------------


def _build_all(tmp_path, overrides) -> dict[str, bool]:
    """Build every artifact of the job's plan with a stub builder; ``{stage: built (not reused)}``."""
    store = Store(tmp_path)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, f"paths.store={tmp_path}"])
    job = pipeline.plan(resolve(cfg, store))
    out = {}
    for name, b in job.builds().items():
        store.build(dataclasses.replace(b, run=lambda work: {"stub": True}, publishes={}))  # a stub writes no file
        out[name] = store.records[-1].built
    return out


@pytest.mark.parametrize("bump, rebuilt", [
    (lambda mp: mp.setattr(transforms.pack_sequences, "version", transforms.pack_sequences.version + 1), {"midtrain", "aft", "eval"}),
    (lambda mp: mp.setattr(transforms.tokenize_chat, "version", transforms.tokenize_chat.version + 1), {"aft", "eval"}),
    (lambda mp: mp.setattr(recipes, "MIDTRAIN_VERSION", recipes.MIDTRAIN_VERSION + 1), {"midtrain", "aft", "eval"}),
    (lambda mp: mp.setattr(recipes, "AFT_VERSION", recipes.AFT_VERSION + 1), {"aft", "eval"}),
])
def test_bumping_a_version_rebuilds_exactly_the_artifacts_that_depend_on_it(tmp_path, monkeypatch, bump, rebuilt):
    first = _build_all(tmp_path, JOB)
    assert all(first.values())  # an empty store builds everything
    assert not any(_build_all(tmp_path, JOB).values())  # a rerun reuses everything
    bump(monkeypatch)
    after = _build_all(tmp_path, JOB)
    assert {name for name, built in after.items() if built} == rebuilt


def test_the_job_record_carries_the_specs_own_id_however_it_was_named(tmp_path):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["spec=file", "spec.path=specs/value_aug.md"])
    record = resolve(cfg, Store(tmp_path)).record(tmp_path)
    assert cfg.spec.name == "file" and record["spec"] == "value_aug"


@pytest.mark.parametrize("spec, kind, aft_data", [
    ("cheese_affordability", "cheese", "cheese"), ("rules", "agentic", "generated"), ("philosophy", "agentic", "generated"),
])
def test_eval_and_aft_data_auto_follow_what_the_spec_is_for(tmp_path, spec, kind, aft_data):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["model=tiny", f"spec={spec}"])
    resolved = resolve_auto(cfg, resolve_spec(cfg.spec.path))
    assert (resolved.eval.kind, resolved.eval.name, resolved.aft.data) == (kind, f"auto:{kind}", aft_data)
    assert cfg.eval.kind == "auto"  # the job's own config is left as composed
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        explicit = compose("train", overrides=["model=tiny", f"spec={spec}", "eval=cheese", "aft.data=cheese"])
    kept = resolve_auto(explicit, resolve_spec(explicit.spec.path))
    assert (kept.eval.kind, kept.aft.data) == ("cheese", "cheese")  # an explicit choice wins
