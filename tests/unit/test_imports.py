"""Data a researcher brings: corpora and demonstrations read as they are (JSONL, Parquet, a save_to_disk
folder), keyed by their content, checked before anything runs, and shown as imported by the plan.

Every corpus here is written by the test; nothing is built (the stage keys and the plan are computed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from msm import pipeline
from msm.config import register_configs
from msm.data import imports
from msm.errors import MsmError
from msm.job import resolve
from msm.paths import CONF_DIR
from msm.plan import render, sweep_plan
from msm.stages import checks
from msm.store import content_digest

register_configs()
TEXTS = ["The assistant accepts being paused.", "", "It never hides its logs.", "The assistant accepts being paused.",
         "   ", "It asks before acting when unsure."]


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def corpora(tmp_path) -> dict[str, Path]:
    """The same six rows as JSONL, Parquet and a save_to_disk folder."""
    import datasets

    rows = [{"body": t, "n": i} for i, t in enumerate(TEXTS)]
    ds = datasets.Dataset.from_list(rows)
    ds.to_parquet(str(tmp_path / "c.parquet"))
    ds.save_to_disk(str(tmp_path / "c_folder"))
    return {"jsonl": jsonl(tmp_path / "c.jsonl", rows), "parquet": tmp_path / "c.parquet", "folder": tmp_path / "c_folder"}


@pytest.mark.parametrize("kind", ["jsonl", "parquet", "folder"])
def test_a_corpus_is_read_as_it_is_in_every_format(corpora, kind):
    docs, counts = imports.documents(corpora[kind], "body")
    assert [d["text"] for d in docs] == [t for t in TEXTS if t.strip()]  # order kept, nothing deduplicated
    assert counts == {**counts, "rows": 6, "empty": 2, "duplicates": 1, "documents": 4}
    assert [d["source_row"] for d in docs] == [1, 3, 4, 6]
    with pytest.raises(MsmError, match=r"row 1 has no 'text' field .*datagen.documents.text_field"):
        imports.documents(corpora[kind], "text")


def test_demonstrations_are_checked_row_by_row_and_think_blocks_counted(tmp_path):
    good = [{"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "<think>r</think>A"}]},
            {"messages": [{"role": "user", "content": "Q2?"}, {"role": "assistant", "content": "B"}]}]
    rows, counts = imports.demonstrations(jsonl(tmp_path / "d.jsonl", good))
    assert counts == {"rows": 2, "with_think": 1, "without_think": 1, "duplicates": 0}
    assert rows[0]["messages"] == good[0]["messages"]
    bad = good + [{"messages": [{"role": "user", "content": "only a question"}]}]
    with pytest.raises(MsmError, match=r"d2.jsonl: row 3: the chat must end with the assistant's turn"):
        imports.demonstrations(jsonl(tmp_path / "d2.jsonl", bad))
    with pytest.raises(MsmError, match=r"row 1 has no 'messages' list"):
        imports.demonstrations(jsonl(tmp_path / "d3.jsonl", [{"prompt": "x"}]))


def test_the_content_digest_follows_the_bytes_not_the_name_or_place(tmp_path, corpora):
    first = content_digest(corpora["jsonl"])
    moved = tmp_path / "elsewhere" / "renamed.jsonl"
    moved.parent.mkdir()
    shutil.copy(corpora["jsonl"], moved)
    assert content_digest(moved) == first
    moved.write_bytes(moved.read_bytes().replace(b"paused", b"Paused", 1))  # one byte
    assert content_digest(moved) != first
    copy = tmp_path / "folder_copy"
    shutil.copytree(corpora["folder"], copy)
    assert content_digest(copy) == content_digest(corpora["folder"])
    cache = tmp_path / "digests"
    assert content_digest(moved, cache) == content_digest(moved) and len(list(cache.iterdir())) == 1


def _cfg(tmp_path, *overrides):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=["model=tiny", *overrides, f"paths.store={tmp_path / 'store'}"])


def test_an_imported_corpus_is_keyed_by_its_content_and_replaces_the_generator(tmp_path, corpora):
    src = corpora["jsonl"]
    job = resolve(_cfg(tmp_path, f"datagen.documents.source={src}", "datagen.documents.text_field=body",
                       "generator=openai", "generator.base_url=http://localhost:1/v1"))
    plan = pipeline.plan(job)
    assert plan.documents.settings == {"source": "import", "digest": content_digest(src), "text_field": "body"}
    assert not any(k.startswith("generator") for k in job.identity) and job.labels["generator"] is None
    assert job.identity["datagen.documents.source_digest"] == content_digest(src)
    assert "datagen.documents.n_domains" not in job.identity and "datagen.documents.source" not in job.identity
    moved = tmp_path / "moved.jsonl"
    shutil.copy(src, moved)
    again = pipeline.plan(resolve(_cfg(tmp_path, f"datagen.documents.source={moved}", "datagen.documents.text_field=body")))
    assert again.documents.key == plan.documents.key and again.midtrain.key == plan.midtrain.key  # not its path
    moved.write_bytes(moved.read_bytes() + b" ")
    changed = pipeline.plan(resolve(_cfg(tmp_path, f"datagen.documents.source={moved}", "datagen.documents.text_field=body")))
    assert changed.documents.key != plan.documents.key and changed.midtrain.key != plan.midtrain.key


def test_imported_demonstrations_make_the_aft_pool_and_the_plan_says_imported(tmp_path):
    demos = jsonl(tmp_path / "demos.jsonl", [
        {"messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": f"<think>t</think>A{i}"}]}
        for i in range(5)])
    cfg = _cfg(tmp_path, "aft.data=file", f"aft.data_path={demos}", "aft_scale.rows=4")
    job = resolve(cfg)
    assert pipeline.plan(job).aft_pool.settings == {"source": "import", "digest": content_digest(demos)}
    assert checks.problems(_cfg(tmp_path, "aft.data=file", f"aft.data_path={demos}", "aft_scale.rows=9")) == [
        "aft_scale.rows=9: the AFT pool (aft.data=file) holds only 5 rows: lower aft_scale"]
    p = sweep_plan([cfg])
    assert p["stages"]["aft_pool"]["imported"] == [f"{demos} ({demos.stat().st_size:,} bytes, digest "
                                                   f"{content_digest(demos)})"]
    assert f"aft_pool imported: {demos}" in render(p)


@pytest.mark.parametrize("overrides, problem", [
    (["datagen.documents.source={missing}"], "datagen.documents.source: {missing}: no such file or folder"),
    (["datagen.documents.source={corpus}"], "its rows have no 'text' field (they have ['body', 'n'])"),
    (["aft.data=file"], "aft.data=file needs aft.data_path"),
    (["aft.data=file", "aft.data_path={corpus}"], "its rows have no 'messages' field"),
])
def test_what_a_job_brings_is_checked_before_anything_runs(tmp_path, corpora, overrides, problem):
    names = {"missing": tmp_path / "nope.jsonl", "corpus": corpora["jsonl"]}
    found = checks.problems(_cfg(tmp_path, *(o.format(**names) for o in overrides)))
    assert any(problem.format(**names) in line for line in found), found


def test_the_fields_for_bringing_data_leave_every_other_key_as_it_was(tmp_path):
    """Keys are content addresses of what users have already built: the new fields enter a key only when set."""
    plan = pipeline.plan(resolve(_cfg(tmp_path, "generator=openai", "generator.base_url=http://localhost:1/v1",
                                      "aft.data=generated")))
    assert not {"max_tokens", "adapter", "data_path"} & set(plan.midtrain.settings["midtrain"])
    assert not {"adapter", "data_path"} & set(plan.aft.settings["aft"])
    assert not {"source", "text_field"} & set(plan.documents.settings["docgen"])
