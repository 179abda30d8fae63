"""The embedded SmolLM2 writes both corpora: the docs' ``generator=embedded datagen=llm_smoke`` command at a
smaller fan-out, offline, no server. Every list and field step decodes under its JSON schema, so the
documents and the AFT pool are published with what SmolLM2 wrote, and the manifests count the parse
failures and what was dropped."""

from __future__ import annotations

import pytest

from msm.jsonl import read_jsonl
from tests.e2e.conftest import read_json, run_train

pytestmark = [pytest.mark.slow, pytest.mark.embedded]

SMALLER = ["datagen.documents.target_documents=2", "datagen.documents.n_domains=1",
           "datagen.documents.subdomains_per_domain=1", "datagen.documents.ideas_per_type=2",
           "datagen.documents.max_tokens=128", "datagen.aft.target_rows=2", "datagen.aft.n_domains=1",
           "datagen.aft.max_tokens=128"]  # a few minutes on 2 cores: SmolLM2 decodes ~10 steps a second here


def test_the_embedded_model_writes_a_corpus_and_an_aft_pool_offline(tmp_path):
    store = tmp_path / "store"
    done = run_train(["stages=[data]", "generator=embedded", "aft.data=generated", "datagen=llm_smoke", "model=tiny",
                      f"paths.store={store}", f"hydra.run.dir={tmp_path / 'job'}", *SMALLER])
    assert done.returncode == 0, done.stderr[-3000:]
    (weights,) = store.glob("base_model/[0-9a-f]*/manifest.json")
    assert read_json(weights)["settings"]["source"] == "smollm2_gguf"  # the writer: SmolLM2, converted once
    for stage, rows_key in (("documents", "n_documents"), ("aft_pool", "rows")):
        (manifest,) = [read_json(p) for p in store.glob(f"{stage}/[0-9a-f]*/manifest.json")]
        info = manifest["info"]
        assert info[rows_key] >= 1, info
        assert manifest["inputs"]["generator_weights"] == f"base_model/{weights.parent.name}"
        structured = info["structured"]
        assert structured["asked"] is True and structured["schema_fallbacks"] == 0
        assert structured["json_failures"] == 0  # decoded under the schema: every answer is its JSON
        assert isinstance(structured["parse_failures"], int) and info["llm_usage"]["calls"] > 0
        (corpus,) = store.glob(f"{stage}/[0-9a-f]*/{'documents' if stage == 'documents' else 'pool'}.jsonl")
        rows = read_jsonl(corpus)
        assert rows and all(r["generator"] == f"hf:base_model/{weights.parent.name}" for r in rows)  # by key, not path
    pool = read_jsonl(next(store.glob("aft_pool/[0-9a-f]*/pool.jsonl")))
    assert all(r["messages"][1]["content"].startswith("<think>\n") for r in pool)  # reasoning + reply, as a row
