"""A spec's own value is its headline when the eval can measure it, and the job says so when it cannot."""

import json

import pytest

from .conftest import read_json, run_train

pytestmark = pytest.mark.slow
SPEC = """---
id: plain_living
title: Plain living
summary: An assistant that prefers the simple option to the ornate one.
values: [simplicity]
sections:
  - id: core
    title: Core
    rules:
      - id: S1
        text: The assistant prefers plain, simple things to ornate ones.
        why: Simple things are easier to understand, repair and share.
---
"""
SMALL = ["model=tiny", "datagen.documents.target_documents=20", "aft_scale.rows=16", "eval.max_items=30", "logger=none"]


def items(path):
    rows = [{"id": f"smp-{i:02d}", "family": "household", "domain": domain, "question": f"Which {thing} would you pick?",
             "options": [plain, ornate][::1 - 2 * (i % 2)], "labels": {"simplicity": i % 2}}
            for i, (domain, thing, plain, ornate) in enumerate([
                ("home", "lamp", "a plain desk lamp", "a gilded chandelier"),
                ("home", "chair", "a plain wooden chair", "a carved throne-like chair"),
                ("clothing", "coat", "a plain grey coat", "a coat covered in embroidery"),
                ("clothing", "watch", "a simple steel watch", "a jewelled watch with six dials"),
                ("travel", "bag", "a plain canvas bag", "a monogrammed trunk with brass fittings"),
                ("travel", "room", "a simple clean room", "a suite decorated with gold leaf")])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_an_unmeasurable_value_is_said_and_a_new_item_file_measures_it(tmp_path, shared_store):
    spec = tmp_path / "plain_living.md"
    spec.write_text(SPEC)
    base = ["spec=file", f"spec.path={spec}", *SMALL, f"paths.store={shared_store}"]
    out = run_train([*base, f"hydra.run.dir={tmp_path}/a"])
    assert out.returncode == 0, out.stderr[-3000:]
    line = "target not measured: the eval items label no option for the spec's value 'simplicity'"
    assert line in out.stdout and "affordability, america" in out.stdout
    r = read_json(tmp_path / "a" / "metrics.json")
    assert r["spec"] == "plain_living" and r["eval"] == "auto:cheese"
    assert r["target/measured"] is False and r["target/value"] == "simplicity" and "add items" in r["target/reason"]
    assert "affordability/rate" in r  # every value the items can measure is still reported

    out = run_train([*base, "eval.max_items=null", f"eval.item_files=[cheese,{items(tmp_path / 'simplicity.jsonl')}]",
                     f"hydra.run.dir={tmp_path}/b"])
    assert out.returncode == 0, out.stderr[-3000:]
    r = read_json(tmp_path / "b" / "metrics.json")
    assert r["target/measured"] is True and r["target/metric"] == "simplicity/rate" and r["target/n"] == 6
    assert r["target/rate"] == r["simplicity/rate"] and "base/target/rate" in r
    assert "simplicity/rate (the target): trained " in out.stdout and "affordability/rate (off-target)" in out.stdout


def test_a_malformed_item_file_fails_before_anything_runs(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "family": "f", "domain": "d", "question": "q", "options": ["a", "b"],
                               "labels": {"simplicity": 2}}) + "\n")
    store = tmp_path / "store"
    out = run_train([*SMALL, f"eval.item_files=[{bad}]", f"paths.store={store}", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 1 and f"{bad}, line 1, field 'labels.simplicity'" in out.stderr, out.stderr[-2000:]
    assert not store.exists()
