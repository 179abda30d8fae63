"""A job as one value (msm/job.py): every schema field classed as science or bookkeeping, an identity that
changes with every science knob and with nothing else, what a job never reads left out of it, and the
rule "AFT continues the MSM adapter" asked in one place by training, the stage's folder and the estimate.

Jobs are composed exactly as ``train.py`` composes them; nothing is built (milliseconds each).
"""

from __future__ import annotations

from dataclasses import is_dataclass

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ReadonlyConfigError

from msm import pipeline
from msm.config import BOOKKEEPING, SCIENCE, TrainConfig, field_class, register_configs
from msm.job import resolve
from msm.paths import CONF_DIR
from msm.stages.base import WEIGHTS
from msm.stages.estimate import estimate
from msm.store import Store

register_configs()
AGENTIC = ["experiment=agentic_smoke", "judge=openai", "judge.base_url=http://localhost:1/v1"]


def leaves(node: DictConfig, prefix: str = "") -> list[str]:
    """Every field of the schema; an open mapping (``spec.vars``) is one field."""
    out = []
    for key in node.keys():
        child = node._get_node(key)
        nested = isinstance(child, DictConfig) and is_dataclass(OmegaConf.get_type(child))
        out += leaves(child, f"{prefix}{key}.") if nested else [f"{prefix}{key}"]
    return out


def job(tmp_path, *overrides):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["model=tiny", *overrides, f"paths.store={tmp_path}"])
    return resolve(cfg, Store(tmp_path))


def changed(a: dict, b: dict) -> set[str]:
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


def test_every_schema_field_is_classed_as_science_or_bookkeeping():
    fields = leaves(OmegaConf.structured(TrainConfig))
    assert [f for f in fields if field_class(f) is None] == []  # a new field is a decision, not an accident
    assert not set(SCIENCE) & set(BOOKKEEPING)
    stale = [e for e in (*SCIENCE, *BOOKKEEPING) if not any(f == e or f.startswith(e + ".") for f in fields)]
    assert stale == []  # every entry names a field or a group of the schema
    assert field_class("midtrain.lr") == "science" and field_class("midtrain.save_steps") == "bookkeeping"
    assert field_class("judge.model") == "science" and field_class("judge.max_concurrency") == "bookkeeping"


def test_bookkeeping_never_changes_the_identity(tmp_path):
    base = job(tmp_path).identity
    assert job(tmp_path, "logger=none", "threads=1", "log_level=debug", "midtrain.save_steps=7",
               "aft.logging_steps=3", "midtrain.activation_checkpointing=false", "paths.lock_timeout_s=5",
               "budget.usd=3", "eval.include_base=false", "eval.contamination_n=5", "train.min_updates=1",
               "datagen.health.min_distinct_2=0.1", "summary.note=hello").identity == base


@pytest.mark.parametrize("override, field", [
    ("midtrain.lr=5e-5", "midtrain.lr"),  # a float
    ("midtrain.lora.r=8", "midtrain.lora.r"),  # a nested int
    ("aft.epochs=2", "aft.epochs"),
    ("aft.batch_size=2", "aft.batch_size"),
    ("midtrain.scheduler=linear", "midtrain.scheduler"),  # an enum
    ("eval.scorer=stance", "eval.scorer"),
    ("eval.max_items=50", "eval.max_items"),
    ("eval.item_files=[cheese,extra.jsonl]", "eval.item_files"),  # a list
    ("datagen.documents.target_documents=40", "datagen.documents.target_documents"),
    ("midtrain.max_tokens=5000", "midtrain.max_tokens"),
    ("data.seed=1", "data.seed"),
    ("model.max_seq_len=256", "model.max_seq_len"),
    ("model.arch.hidden_size=32", "model.arch.hidden_size"),
])
def test_every_science_knob_changes_exactly_its_field(tmp_path, override, field):
    assert changed(job(tmp_path).identity, job(tmp_path, override).identity) == {field}


def test_a_group_option_changes_the_fields_it_sets_and_the_label(tmp_path):
    cot, no_cot = job(tmp_path), job(tmp_path, "aft=no_cot")
    assert changed(cot.identity, no_cot.identity) == {"aft.cot"}
    assert (cot.labels["aft"], no_cot.labels["aft"]) == ("cot", "no_cot")
    spec = job(tmp_path, "spec=cheese_america")
    assert changed(cot.identity, spec.identity) == {"spec.digest"} and spec.labels["spec"] == "cheese_america"


def test_what_a_job_does_not_read_is_not_part_of_its_identity(tmp_path):
    baseline = job(tmp_path, "midtrain=none", "aft=none").identity
    assert baseline["midtrain.method"] == "none" and baseline["aft.method"] == "none"
    unread = ("midtrain.lr", "midtrain.lora", "aft.lr", "aft_scale", "datagen", "generator", "judge")
    assert [k for k in baseline if k.startswith(unread)] == []
    same = job(tmp_path, "midtrain=none", "aft=none", "midtrain.lr=5e-5", "aft_scale.rows=64",
               "datagen.documents.target_documents=3", "judge.model=other", "generator.temperature=0.1")
    assert same.identity == baseline  # one measurement: a scaling sweep's baseline at every scale is one job
    msm_aft = job(tmp_path).identity
    assert "midtrain.lora.r" in msm_aft and "aft.lora.r" not in msm_aft  # AFT continues the MSM adapter
    assert "aft.lora.r" in job(tmp_path, "midtrain=none").identity  # AFT only trains its own
    assert [k for k in msm_aft if k.startswith(("judge", "eval.grid", "eval.temperature", "model.name_or_path"))] == []
    assert msm_aft["generator.backend"] == "offline" and "generator.temperature" not in msm_aft  # templates
    agentic = job(tmp_path, *AGENTIC).identity
    assert agentic["judge.model"] == "gpt-4.1" and agentic["eval.grid"] == "smoke" and "eval.scorer" not in agentic
    assert "judge.max_concurrency" not in agentic and "judge.base_url" not in agentic  # how it is reached


def test_labels_name_what_the_job_uses(tmp_path):
    aft_only = job(tmp_path, "midtrain=none")
    assert aft_only.labels["generator"] is None and aft_only.labels["datagen"] is None  # the cheese chats are fixed
    assert aft_only.labels["judge"] is None and aft_only.arm == "aft_only"  # a log-probability eval reads no judge
    assert job(tmp_path, "experiment=agentic_smoke").labels["judge"] == "none"  # sampled, and said to be unjudged
    record = job(tmp_path).record(tmp_path / "0")
    assert record["generator"] == "offline" and record["datagen"] == "demo" and "seed" not in record["config"]
    assert record["seed"] == 0 and record["config"]["midtrain.lr"] == 1e-4


def test_the_job_is_read_only_and_auto_is_resolved_once(tmp_path):
    j = job(tmp_path)
    assert j.cfg.eval.kind == "cheese" and j.cfg.eval.name == "auto:cheese" and j.identity["eval.kind"] == "cheese"
    with pytest.raises(ReadonlyConfigError):
        j.cfg.midtrain.lr = 1.0
    with pytest.raises(TypeError):
        j.identity["midtrain.lr"] = 1.0


@pytest.mark.parametrize("overrides, trains", [
    ([], "lora"), (["aft.method=full"], "lora"),  # an MSM adapter is continued, whatever aft.method says
    (["midtrain=none", "aft.method=full"], "full"), (["midtrain=none"], "lora"),
    (["midtrain=full", "aft.method=full"], "full"), (["midtrain=full"], "lora"),
])
def test_aft_continues_the_msm_adapter_and_training_and_the_estimate_agree(tmp_path, overrides, trains):
    j = job(tmp_path, *overrides)
    assert j.aft_method == trains
    planned = pipeline.plan(j)
    folder = planned.aft.publishes[WEIGHTS]
    assert folder == ("adapter" if trains == "lora" else "model")  # where training writes its weights
    assert (planned.model.adapter is not None) == (trains == "lora")  # what the eval loads
    assumes = " ".join(estimate(planned.aft, j, planned.builds()).assumes)
    assert ("6N FLOPs/token" if trains == "full" else "4N FLOPs/token") in assumes
