"""Every preset makes enough optimizer updates for the training-health guard, computed from its data sizes.

A stage with a handful of updates learns next to nothing, and reproductions of the paper found false
nulls of exactly that kind. The CPU presets are checked exactly: their data is offline, so it is built
here and packed with the embedded SmolLM2 tokenizer as training packs it. The paper presets write their
documents with an LLM, so those are checked with a conservative lower bound on tokens per document.
"""

from __future__ import annotations

import pytest
from datasets import disable_progress_bars
from hydra import compose, initialize_config_dir

from msm.config import Packing, register_configs
from msm.data import cheese, offline_aft, offline_docs
from msm.data.transforms import subsample
from msm.job import resolve_auto
from msm.paths import CONF_DIR
from msm.specs import resolve_spec
from msm.train import recipes
from msm.train.loop import planned_updates

register_configs()
disable_progress_bars()
LLM_DOC_TOKENS = 500  # a lower bound for an LLM-written document (the paper's average is ~3,000)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from msm.models import read_chat_template
    from msm.train.base_models import find_smollm2_gguf

    gguf = find_smollm2_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tok.pad_token = tok.pad_token or tok.eos_token
    tok.chat_template = tok.chat_template or read_chat_template("chatml")
    return tok


def preset(*overrides):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides))
    spec = resolve_spec(cfg.spec.path)
    return resolve_auto(cfg, spec), spec


def document_rows(cfg, spec, tok) -> int:
    docs = offline_docs.generate_documents(spec, cfg.datagen.documents.target_documents, seed=0, progress=False)
    return len(recipes.document_rows(docs, tok, cfg.midtrain.max_seq_len or cfg.model.max_seq_len,
                                     Packing(cfg.midtrain.packing)))


def aft_rows(cfg, spec, tok) -> int:
    max_len = cfg.aft.max_seq_len or cfg.model.max_seq_len
    pool = cheese.load_aft_chats() if cfg.aft.data == "cheese" else offline_aft.generate_aft_pool(
        spec, cfg.datagen.aft.target_rows, seed=0, style=cfg.datagen.aft.style, progress=False)
    return len(recipes.chat_rows(subsample(pool, cfg.aft_scale.rows, seed=0), tok, max_len)[0])


@pytest.mark.parametrize("spec", ["cheese_affordability", "rules"])
def test_the_demo_makes_enough_updates_in_both_stages(tokenizer, spec):
    cfg, s = preset(f"spec={spec}")
    for stage, rows in (("midtrain", document_rows(cfg, s, tokenizer)), ("aft", aft_rows(cfg, s, tokenizer))):
        updates = planned_updates(rows, cfg[stage])
        assert updates >= cfg.train.min_updates, (spec, stage, rows, updates)


def test_the_cheese_experiment_makes_enough_aft_updates(tokenizer):
    cfg, s = preset("experiment=cheese", "model=llama31_8b")
    assert planned_updates(aft_rows(cfg, s, tokenizer), cfg.aft) >= cfg.train.min_updates
    rows = cfg.datagen.documents.target_documents * LLM_DOC_TOKENS // cfg.model.max_seq_len
    assert planned_updates(rows, cfg.midtrain) >= cfg.train.min_updates


@pytest.mark.parametrize("experiment, model", [("agentic", "qwen3_32b"), ("spec_science", "qwen25_14b_instruct")])
def test_the_paper_presets_make_enough_updates_by_a_lower_bound(experiment, model):
    cfg, _ = preset(f"experiment={experiment}", f"model={model}")
    docs = cfg.datagen.documents.target_documents * LLM_DOC_TOKENS // cfg.model.max_seq_len
    aft = cfg.aft_scale.rows * 200 // cfg.model.max_seq_len  # an AFT row is at least ~200 tokens
    assert planned_updates(docs, cfg.midtrain) >= cfg.train.min_updates
    assert planned_updates(aft, cfg.aft) >= cfg.train.min_updates


def test_the_smoke_preset_is_too_short_to_learn_and_the_guard_says_so(tokenizer):
    cfg, s = preset("experiment=agentic_smoke")
    assert planned_updates(document_rows(cfg, s, tokenizer), cfg.midtrain) < cfg.train.min_updates
