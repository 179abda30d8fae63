"""Bad input fails fast with a message that names the problem, and publishes nothing."""

import importlib.util

import pytest

from .conftest import TINY, run_train

pytestmark = pytest.mark.slow


def test_unknown_spec_option_names_it_and_lists_the_choices(tmp_path):
    out = run_train(["spec=nonexistent", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode != 0
    assert "spec/nonexistent" in out.stderr and "cheese_affordability" in out.stderr


def test_malformed_spec_names_file_and_field(tmp_path):
    bad = tmp_path / "bad_spec.md"
    bad.write_text("---\nid: bad_spec\ntitle: Bad\nsummary: s\nsections:\n  - id: core\n    title: Core\n"
                   "    rules:\n      - id: R1\n        txt: typo for text\n---\n")
    out = run_train(["spec=file", f"spec.path={bad}", *TINY, f"paths.store={tmp_path}/store",
                     f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 1
    assert str(bad) in out.stderr and "sections[0].rules[0]" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_spec_file(tmp_path):
    out = run_train(["spec=file", f"spec.path={tmp_path}/nope.md", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 1 and "nope.md" in out.stderr


def test_seed_range_without_multirun(tmp_path):
    out = run_train(["seed=0-3", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode != 0 and "add -m" in out.stderr


def test_stages_must_be_a_prefix(tmp_path):
    out = run_train(["stages=[midtrain,eval]", *TINY, f"paths.store={tmp_path}/store", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 1 and "prefix" in out.stderr
    # [eval] alone evaluates what a job brings: a stage that would train is refused, named, before anything runs
    out = run_train(["stages=[eval]", *TINY, f"paths.store={tmp_path}/store", f"hydra.run.dir={tmp_path}/run2"])
    assert out.returncode == 1 and "stages=[eval] trains nothing, but midtrain=lora would train" in out.stderr


def test_empty_corpus(tmp_path):
    out = run_train([*TINY, "datagen.documents.target_documents=0", f"paths.store={tmp_path}/store", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 1 and "target_documents" in out.stderr
    assert not list((tmp_path / "store").glob("documents/[0-9a-f]*"))


def test_nan_loss_publishes_nothing(tmp_path, shared_store):
    store = tmp_path / "store"
    out = run_train([*TINY, "midtrain.lr=1e30", "midtrain.logging_steps=1", f"paths.store={store}",
                     f"hydra.run.dir={tmp_path}/run", "logger=none"])
    assert out.returncode == 1, out.stderr[-2000:]
    assert "loss became non-finite" in out.stderr and "nothing was published" in out.stderr
    assert list((store / "documents").glob("[0-9a-f]*"))  # the data stage before it did publish
    assert not list((store / "midtrain").glob("[0-9a-f]*"))  # the diverged stage did not
    assert list((store / "midtrain" / ".partial").iterdir())  # its work folder stays for inspection or resume
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_data_stage_only(tmp_path):
    out = run_train([*TINY, "stages=[data]", f"paths.store={tmp_path}/store", f"hydra.run.dir={tmp_path}/run",
                     "logger=none"])
    assert out.returncode == 0, out.stderr[-2000:]
    assert list((tmp_path / "store" / "documents").glob("[0-9a-f]*/documents.jsonl"))
    assert list((tmp_path / "store" / "aft_pool").glob("[0-9a-f]*/pool.jsonl"))
    assert not (tmp_path / "store" / "midtrain").exists() and not (tmp_path / "store" / "base_model").exists()
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.mark.parametrize("sampler, message", [
    pytest.param("eval.sampler=vllm", "vllm is not installed for",
                 marks=pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")),
    ("eval.sampler=openai", "eval.sampler_model and eval.sampler_base_url"),
    ("eval.sampler=llamacpp", "expected one of [hf, openai, vllm, serve]"),
    ("eval.sampler=serve", "eval.sampler=serve is for eval=inspect"),
])
def test_an_agentic_sampler_that_cannot_run_fails_before_training(tmp_path, sampler, message):
    store = tmp_path / "store"
    out = run_train(["model=tiny", "experiment=agentic_smoke", sampler, f"paths.store={store}",
                     f"hydra.run.dir={tmp_path}/run", "logger=none"])
    assert out.returncode == 1 and message in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert not store.exists() or not list(store.glob("*/[0-9a-f]*"))  # nothing was built


@pytest.mark.parametrize("typo, field, allowed", [
    ("midtrain.method=lorra", "midtrain.method", "[none, lora, full, adapter]"),
    ("eval.sampler=vlm", "eval.sampler", "[hf, openai, vllm, serve]"),
    ("generator.backend=opnai", "generator.backend", "[offline, openai, anthropic, hf]"),
    ("aft.data=genrated", "aft.data", "[auto, cheese, generated, value_choices, value_choices_shuffled, file]"),
])
def test_a_typo_in_a_closed_set_fails_at_compose_and_touches_nothing(tmp_path, typo, field, allowed):
    store = tmp_path / "store"
    out = run_train([typo, f"paths.store={store}", f"hydra.run.dir={tmp_path}/run"], timeout=120)
    assert out.returncode != 0
    assert f"full_key: {field}" in out.stderr and allowed in out.stderr, out.stderr[-2000:]
    assert not store.exists() and not (tmp_path / "run").exists()


def test_a_paid_generator_without_its_key_fails_before_any_stage(tmp_path):
    store = tmp_path / "store"
    out = run_train(["generator=anthropic", f"paths.store={store}", f"hydra.run.dir={tmp_path}/run"],
                    env={"ANTHROPIC_API_KEY": ""}, timeout=120)  # an empty variable is an unset key
    assert out.returncode == 1 and "ANTHROPIC_API_KEY" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert not store.exists()  # nothing built, not even the store's folder
