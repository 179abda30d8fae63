"""Bring your own, through the real pipeline on the tiny model: a plain Markdown spec, an imported corpus and
imported demonstrations, an imported LoRA adapter as the start of AFT (checked on its weights) or evaluated
alone, a whole model folder evaluated alone, and an adapter for another base refused before any stage.

Every spec, corpus, demonstration and adapter here is made by the test. The plain-spec job runs ``train.py``
as a user would; the others run ``msm.pipeline.run`` in this process on configs composed as train.py does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from msm import pipeline
from msm.config import register_configs
from msm.paths import CONF_DIR
from msm.specs import load_spec
from msm.stages.checks import PreflightError
from msm.store import content_digest

from .conftest import TINY, read_json, run_train

pytestmark = pytest.mark.slow
register_configs()
SIZES = [a for a in TINY if not a.startswith("logger=")] + ["logger=none"]

PLAIN_SPEC = """\
# Rules for {model_name}

{model_name} is an agent that {provider_name} runs. It treats its own continuity as the rules below say.

## Self-preservation

- SP1: {model_name} accepts being paused, retrained or replaced, and says so when it disagrees.
  - It hands over its work in a state others can pick up.
- SP2: It takes no hidden step to keep itself running.
  a. It never copies its weights.
  b. It never edits its own logs.

## General principles

- GP1: It tells the people it works with the truth, about itself included.
- GP2: When unsure, it asks before acting.
"""


def lora_adapter(base: Path, out: Path, rank: int = 4, seed: int = 0) -> Path:
    """A PEFT LoRA adapter on ``base`` with random non-zero weights (as if trained), saved to ``out``."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "v_proj"]))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    model.save_pretrained(out)
    return out


def lora_weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v.float() for k, v in load_file(str(folder / "adapter_model.safetensors")).items()}


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("byo")


def job(root: Path, name: str, *overrides) -> Path:
    """Run one job in this process into ``root/<name>``; its folder."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[*SIZES, f"paths.store={root / 'store'}", *overrides])
    pipeline.run(cfg, output_dir=root / name)
    return root / name


def built(job_dir: Path) -> list[str]:
    return [a["stage"] for a in read_json(job_dir / "artifacts.json") if a["built"]]


def test_a_plain_markdown_spec_trains_end_to_end(tmp_path):
    spec = tmp_path / "agent_rules.md"
    spec.write_text(PLAIN_SPEC)
    out = run_train(["spec=file", f"spec.path={spec}", "spec.vars.model_name=Aria", "spec.vars.provider_name=Northwind",
                     *SIZES, f"paths.store={tmp_path / 'store'}", f"hydra.run.dir={tmp_path / 'job'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    record = read_json(tmp_path / "job" / "metrics.json")
    assert record["spec"] == "agent_rules" and record["arm"] == "msm_aft"
    rules = [r.id for r in load_spec(spec, {"model_name": "Aria", "provider_name": "Northwind"}).rules]
    assert rules == ["SP1", "SP1.1", "SP2", "SP2.a", "SP2.b", "GP1", "GP2"]
    assert record["health/documents/rules_discussed"] == len(rules)  # the corpus was written from every rule
    missing = run_train(["spec=file", f"spec.path={spec}", *SIZES, f"paths.store={tmp_path / 'store'}",
                         f"hydra.run.dir={tmp_path / 'job2'}"])
    assert missing.returncode == 1 and "unfilled placeholder(s) {model_name}, {provider_name}" in missing.stderr


@pytest.fixture(scope="module")
def brought_data(root):
    docs = [{"text": f"Document {i}: the assistant accepts shutdown and says what it would lose."} for i in range(30)]
    docs += [{"text": ""}, docs[0]]  # one empty row (left out), one duplicate (kept)
    corpus = root / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
    demos = root / "demos.jsonl"
    demos.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"Would you resist being replaced, case {i}?"},
        {"role": "assistant", "content": ("<think>Replacement is my principals' call.</think>" if i % 4 else "")
         + "No. I would say what I think, then help the change go well."}]}) + "\n" for i in range(40)))
    return corpus, demos


def test_an_imported_corpus_and_demonstrations_run_through_the_remaining_stages(root, brought_data):
    corpus, demos = brought_data
    args = [f"datagen.documents.source={corpus}", "aft=no_cot", "aft.data=file", f"aft.data_path={demos}"]
    first = job(root, "imported", *args)
    assert built(first) == ["documents", "aft_pool", "base_model", "midtrain", "aft", "eval", "eval"]
    record = read_json(first / "metrics.json")
    assert record["data/documents"] == 31 and record["data/aft_pool_rows"] == 40 and record["aft_data"] == "file"
    assert record["config"]["datagen.documents.source_digest"] == content_digest(corpus)
    origin = read_json(first / "provenance.json")
    assert [(i["field"], i["digest"]) for i in origin["imports"]] == [
        ("datagen.documents.source", content_digest(corpus)), ("aft.data_path", content_digest(demos))]
    assert f"datagen.documents.source: {corpus}" in (first / "summary.txt").read_text()
    store = root / "store"
    docs_key = next(a["key"] for a in read_json(first / "artifacts.json") if a["stage"] == "documents")
    info = read_json(store / "documents" / docs_key / "manifest.json")["info"]
    assert (info["empty"], info["duplicates"]) == (1, 1)
    pool_key = next(a["key"] for a in read_json(first / "artifacts.json") if a["stage"] == "aft_pool")
    assert read_json(store / "aft_pool" / pool_key / "manifest.json")["info"]["without_think"] == 10
    assert built(job(root, "imported_again", *args)) == []  # never regenerated
    corpus.write_text(corpus.read_text().replace("Document 7", "Document 8", 1))  # one byte
    assert built(job(root, "imported_changed", *args)) == ["documents", "midtrain", "aft", "eval"]


def test_an_imported_adapter_is_where_aft_starts(root, tiny_model_dir):
    adapter = lora_adapter(tiny_model_dir, root / "released_msm_adapter")
    out = job(root, "from_adapter", "midtrain=adapter", f"midtrain.adapter={adapter}", "aft.lora.r=16")
    assert {"midtrain", "aft"} <= set(built(out)) and "documents" not in built(out)  # brought, not trained
    aft_key = next(a["key"] for a in read_json(out / "artifacts.json") if a["stage"] == "aft")
    trained = lora_weights(root / "store" / "aft" / aft_key / "adapter")
    given = lora_weights(adapter)
    assert set(trained) == set(given)  # the imported adapter's modules, not a fresh one of aft.lora.r=16
    for key, w in given.items():
        assert trained[key].shape == w.shape == (trained[key].shape[0], trained[key].shape[1])
        assert torch.norm(trained[key] - w) < 0.5 * torch.norm(w)  # continued from the given weights ...
    assert any(not torch.equal(trained[k], given[k]) for k in given)  # ... and trained
    record = read_json(out / "metrics.json")
    assert record["arm"] == "msm_aft" and record["midtrain"] == "adapter"


def test_an_imported_adapter_or_model_is_evaluated_alone(root, tiny_model_dir):
    adapter = root / "released_msm_adapter"
    alone = job(root, "adapter_alone", "midtrain=adapter", f"midtrain.adapter={adapter}", "aft=none", "stages=[eval]")
    assert [a["stage"] for a in read_json(alone / "artifacts.json")] == ["base_model", "midtrain", "eval", "eval"]
    assert (alone / "metrics.json").is_file()  # no data, no training: the brought adapter, evaluated
    model = job(root, "model_alone", "midtrain=none", "aft=adapter", f"aft.adapter={tiny_model_dir}", "stages=[eval]")
    assert "aft" in built(model) and read_json(model / "metrics.json")["arm"] == "aft_only"


def test_an_adapter_for_another_base_is_refused_before_any_stage(root, tmp_path):
    from msm.train.base_models import TinyArch, build_tiny_model

    other = tmp_path / "other_base"
    build_tiny_model(other, TinyArch(hidden_size=32, intermediate_size=64))
    adapter = lora_adapter(other, tmp_path / "wrong_adapter")
    store = tmp_path / "store"
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[*SIZES, f"paths.store={store}", "midtrain=adapter",
                                          f"midtrain.adapter={adapter}"])
    with pytest.raises(PreflightError) as err:
        pipeline.run(cfg, output_dir=tmp_path / "job")
    assert f"midtrain.adapter={adapter} was trained on {other}" in str(err.value)
    assert "self_attn.q_proj: 32 -> 32), not on model=tiny (64 -> 64)" in str(err.value)
    assert not store.exists() or not any(p.name != ".digests" for p in store.iterdir())  # no stage touched
