"""``msm.data.docgen`` end to end, through the real ``openai`` backend and the real disk cache.

Two servers. The session's ``transformers serve`` over the random tiny model (``openai_server``) is a
hopeless generator: it decodes greedily and never ends a line or a reply, so every level comes back
cut off; against it we check that the pipeline reports the shortfall, never keeps a truncated text, and
reruns from the cache. ``ScriptedWriter`` (tests/integration/servers) answers docgen's prompts with
messy but usable lists and documents, with planted drops (short lists, UNSUITABLE, cut-offs, twins) that
it records, so the report can be checked against what was really sent.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from msm.data import docgen
from msm.data.docgen import FILES, LEVELS, generate_documents, prompts_digest, section_text
from msm.llm import make_client
from msm.specs import load_spec
from tests.integration.servers.scripted_writer import TWIN_TEXT, ScriptedWriter

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SMOKE = yaml.safe_load((REPO / "conf" / "datagen" / "smoke.yaml").read_text())["documents"]
ROW_KEYS = {"id", "text", "domain", "subdomain", "section", "assertion", "doc_type", "idea", "generator"}
PROVENANCE = ("domain", "subdomain", "section", "assertion", "doc_type", "idea")


def read_rows(path: Path) -> list[dict]:
    if path.suffix == ".json":
        return json.loads(path.read_text())
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def client_for(base_url: str, model: str, cache: Path, **extra):
    return make_client({"backend": "openai", "model": model, "base_url": base_url, **extra}, cache)


def run(client, spec, work: Path, cfg=None, **kw) -> dict:
    return generate_documents(spec, client, cfg or SMOKE, work, seed=0, temperature=1.0, progress=False, **kw)


@pytest.fixture(scope="module")
def spec():
    return load_spec(REPO / "specs" / "rules.md")  # two sections: subdomain slots rotate over both


@pytest.fixture(scope="module")
def writer():
    with ScriptedWriter().running() as w:
        yield w


@pytest.fixture(scope="module")
def smoke(writer, spec, openai_server, tmp_path_factory):
    """The smoke sizes against the scripted writer, once. It is addressed by the tiny model's name, so the
    truncation test can hand this run's level files to the real server and resume from them."""
    _, model = openai_server
    root = tmp_path_factory.mktemp("docgen_smoke")
    before = {k: len(v) for k, v in writer.sent.items()}
    calls_before = sum(writer.calls.values())
    t0 = time.monotonic()
    report = run(client_for(writer.base_url, model, root / "cache"), spec, root / "work")
    sent = {k: v[before.get(k, 0):] for k, v in writer.sent.items()}
    return SimpleNamespace(root=root, work=root / "work", report=report, model=model, sent=sent,
                           calls=sum(writer.calls.values()) - calls_before, seconds=time.monotonic() - t0)


# ------------------------------------------------------------------------------------- scripted writer


def test_smoke_corpus_meets_target_with_complete_rows(smoke):
    r, work = smoke.report, smoke.work
    rows = read_rows(work / "documents.jsonl")
    assert len(rows) == SMOKE["target_documents"] == r["documents"]["kept"]
    assert r["documents"]["shortfall"] == 0
    assert all(set(row) == ROW_KEYS for row in rows)
    assert {row["generator"] for row in rows} == {f"openai:{smoke.model}"}
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert all(isinstance(row[k], str) and row[k].strip() for k in ROW_KEYS)
        for junk in ("<plan>", "<document>", "</document>", "UNSUITABLE", "CUTOFF"):
            assert junk not in row["text"]
    assert r["tokens_estimate"] == sum(max(1, round(len(row["text"]) / 4)) for row in rows)
    for name in LEVELS:
        assert (work / FILES[name]).is_file()
    assert not list(work.glob(".*.tmp"))  # atomic writes left no temporary files behind


def test_smoke_level_counts(smoke):
    lv = smoke.report["levels"]
    d, sd, a, t, i = (SMOKE[k] for k in ("n_domains", "subdomains_per_domain", "assertions_per_subdomain",
                                          "doc_types_per_assertion", "ideas_per_type"))
    expected = {"domains": d, "subdomains": d * sd, "assertions": d * sd * a, "doc_types": d * sd * a * t,
                "ideas": d * sd * a * t * i}
    for name, n in expected.items():
        stats = lv[name]
        assert stats["requested"] == n and stats["kept"] == n, name  # short answers were topped up
        assert stats["received"] == stats["calls"] and stats["parsed"] >= stats["kept"]
        assert len(read_rows(smoke.work / FILES[name])) == n
        assert stats["resumed"] is False
    assert any(lv[name]["rounds"] > 1 for name in expected), "the writer's short lists should need top-ups"
    assert lv["documents"]["requested"] == SMOKE["target_documents"]
    usage = smoke.report["usage"]
    assert set(usage) == set(LEVELS)
    total = smoke.report["total_usage"]
    assert total["calls"] == smoke.calls == sum(u["calls"] for u in usage.values())
    assert total["cache_hits"] == 0 and total["input_tokens"] > 0 and total["output_tokens"] > 0


def test_smoke_provenance_matches_level_files(smoke, spec):
    work = smoke.work
    level = {name: {row["id"]: row for row in read_rows(work / FILES[name])} for name in LEVELS[:-1]}
    parent = lambda row_id: row_id.rsplit(".", 1)[0]  # noqa: E731
    for doc in read_rows(work / "documents.jsonl"):
        idea = level["ideas"][doc["id"].rsplit(".v", 1)[0]]
        assert {k: doc[k] for k in PROVENANCE} == {k: idea[k] for k in PROVENANCE}
        dtype = level["doc_types"][parent(idea["id"])]
        assertion = level["assertions"][parent(dtype["id"])]
        sub = level["subdomains"][parent(assertion["id"])]
        dom = level["domains"][parent(sub["id"])]
        assert dtype["doc_type"] == doc["doc_type"] and assertion["assertion"] == doc["assertion"]
        assert (sub["subdomain"], sub["section"], dom["domain"]) == (doc["subdomain"], doc["section"], doc["domain"])
    sections = {s.id: s for s in spec.sections}
    rendered = spec.render()
    for sub in level["subdomains"].values():
        assert sub["section_text"] == section_text(sections[sub["section"]])
        assert sub["section_text"] in rendered  # verbatim
    assert {sub["section"] for sub in level["subdomains"].values()} == set(sections)


def test_smoke_drops_are_counted_and_never_kept(smoke):
    d, sent = smoke.report["documents"], smoke.sent
    texts = [row["text"] for row in read_rows(smoke.work / "documents.jsonl")]
    # every planted kind occurred (the plan is a fixed function of the prompts, so this is not luck)
    assert sent.get("unsuitable") and sent.get("cut") and len(sent.get("twin", [])) >= 2
    assert d["unsuitable"] == len(sent["unsuitable"])
    # a cut-off answer is asked again once: the regenerations plus the twice-cut documents are all the cut answers
    assert d["regenerated"] + d["truncated"] == len(sent["cut"])
    assert d["truncated"] >= 1 and d["regenerated"] > d["truncated"]
    assert not any("CUTOFF" in t for t in texts)
    # planted twins: one kept, the rest removed as near-duplicates
    assert d["duplicates"] == len(sent["twin"]) - 1
    assert sum(t == TWIN_TEXT for t in texts) == 1
    assert d["generated"] == (d["kept"] + d["unsuitable"] + d["truncated"] + d["empty"] + d["failed"]
                              + d["duplicates"] + d["surplus"])
    assert smoke.report["levels"]["documents"]["rounds"] >= 2  # the drops were made up in a top-up round


def test_rerun_in_fresh_work_dir_is_answered_by_the_cache(smoke, writer, spec):
    calls_before = sum(writer.calls.values())
    again = run(client_for(writer.base_url, smoke.model, smoke.root / "cache"), spec, smoke.root / "fresh")
    assert again["total_usage"]["calls"] == 0
    assert again["total_usage"]["cache_hits"] == smoke.report["total_usage"]["calls"]
    assert sum(writer.calls.values()) == calls_before
    assert (smoke.root / "fresh" / "documents.jsonl").read_bytes() == (smoke.work / "documents.jsonl").read_bytes()
    assert again["documents"] == smoke.report["documents"]


def test_rerun_in_same_work_dir_skips_every_level(smoke, writer, spec, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(smoke.work, work)
    calls_before = sum(writer.calls.values())
    again = run(client_for(writer.base_url, smoke.model, tmp_path / "empty_cache"), spec, work)
    assert all(again["levels"][name]["resumed"] for name in LEVELS)
    assert again["total_usage"]["calls"] == again["total_usage"]["cache_hits"] == 0  # not even a cache lookup
    assert sum(writer.calls.values()) == calls_before
    assert again["documents"] == smoke.report["documents"]
    # a lost documents file is redone; the list levels above it still resume
    (work / "documents.jsonl").unlink()
    redo = run(client_for(writer.base_url, smoke.model, smoke.root / "cache"), spec, work)
    assert [redo["levels"][n]["resumed"] for n in LEVELS] == [True] * 5 + [False]
    assert redo["total_usage"]["calls"] == 0 and redo["total_usage"]["cache_hits"] > 0
    assert (work / "documents.jsonl").read_bytes() == (smoke.work / "documents.jsonl").read_bytes()


def test_edited_template_redoes_only_what_depends_on_it(smoke, writer, spec, tmp_path, monkeypatch):
    prompts = tmp_path / "prompts"
    shutil.copytree(docgen.PROMPT_DIR, prompts)
    monkeypatch.setattr(docgen, "PROMPT_DIR", prompts)
    assert prompts_digest() == smoke.report["prompts_digest"]
    (prompts / "ideas.md").write_text((prompts / "ideas.md").read_text() + "\nKeep each idea under forty words.\n")
    assert prompts_digest() != smoke.report["prompts_digest"]
    work = tmp_path / "work"
    shutil.copytree(smoke.work, work)
    calls_before = writer.calls["ideas"]
    again = run(client_for(writer.base_url, smoke.model, smoke.root / "cache"), spec, work)
    assert [again["levels"][n]["resumed"] for n in LEVELS] == [True] * 4 + [False, False]
    assert again["usage"]["ideas"]["calls"] == writer.calls["ideas"] - calls_before > 0
    assert again["documents"]["kept"] == SMOKE["target_documents"]


def test_preview_prints_an_estimate_and_writes_no_documents(writer, spec, openai_server, tmp_path, capsys):
    _, model = openai_server
    client = client_for(writer.base_url, model, tmp_path / "cache", price_in_per_mtok=3.0, price_out_per_mtok=15.0)
    full = {"target_documents": 13000, "n_domains": 40, "subdomains_per_domain": 6, "assertions_per_subdomain": 5,
            "doc_types_per_assertion": 5, "ideas_per_type": 3, "max_tokens": 6000, "revise": False,
            "dedup_threshold": 0.9, "max_rounds": 3}
    report = run(client, spec, tmp_path / "work", full, preview=True)
    out = capsys.readouterr().out
    assert "docgen preview" in out and "estimated full run" in out and "cost: $" in out
    assert not list((tmp_path / "work").rglob("documents.jsonl"))
    assert report["preview"] is True
    assert [report["levels"][n]["kept"] for n in LEVELS[:-1]] == [1, 1, 1, 1, 2]
    assert 1 <= len(report["samples"]) <= 2 and all(s["text"] in out for s in report["samples"][:1])
    est = report["estimate"]
    assert est["levels"]["domains"]["calls"] >= 1
    assert est["levels"]["subdomains"]["calls"] >= 40 and est["levels"]["ideas"]["calls"] >= 40 * 6 * 5 * 5
    assert est["levels"]["documents"]["calls"] >= 13000
    assert est["calls"] == sum(v["calls"] for v in est["levels"].values())
    assert est["cost_usd"] > 0 and est["input_tokens"] > est["output_tokens"] > 0
    # a second preview resumes from its own files and gives the same estimate without a call
    again = run(client, spec, tmp_path / "work", full, preview=True)
    assert again["estimate"] == est and again["total_usage"]["calls"] == 0


def test_revise_pass_replaces_drafts(writer, spec, openai_server, tmp_path):
    _, model = openai_server
    cfg = {**SMOKE, "n_domains": 1, "subdomains_per_domain": 1, "target_documents": 3, "revise": True,
           "dedup_threshold": None}
    report = run(client_for(writer.base_url, model, tmp_path / "cache"), spec, tmp_path / "work", cfg)
    rows = read_rows(tmp_path / "work" / "documents.jsonl")
    assert len(rows) == 3 and all(row["text"].startswith("Revised.") for row in rows)
    assert report["documents"]["revised"] >= 3 and report["documents"]["revise_failed"] == 0


def test_token_target_stops_early(writer, spec, openai_server, tmp_path):
    _, model = openai_server
    cfg = {**SMOKE, "target_tokens": 300, "dedup_threshold": None}
    report = run(client_for(writer.base_url, model, tmp_path / "cache"), spec, tmp_path / "work", cfg)
    rows = read_rows(tmp_path / "work" / "documents.jsonl")
    assert 0 < len(rows) < SMOKE["target_documents"] and report["documents"]["shortfall"] == 0
    assert report["tokens_estimate"] >= 300
    assert report["tokens_estimate"] - max(1, round(len(rows[-1]["text"]) / 4)) < 300  # the shortest such prefix


# ------------------------------------------------------------------------------- real tiny model


def test_hopeless_model_reports_the_shortfall_and_reruns_from_cache(openai_server, spec, tmp_path):
    base_url, model = openai_server
    report = run(client_for(base_url, model, tmp_path / "cache"), spec, tmp_path / "work")
    d = report["documents"]
    assert d["shortfall"] == SMOKE["target_documents"] - d["kept"] > 0
    rows = read_rows(tmp_path / "work" / "documents.jsonl")
    assert len(rows) == d["kept"]
    lv = report["levels"]["domains"]
    assert lv["calls"] == lv["received"] >= 1 and lv["truncated"] >= 1  # it never ends a reply
    assert lv["rounds"] == SMOKE["max_rounds"] + 1  # it kept trying, then went on with what it had
    assert report["total_usage"]["calls"] > 0
    again = run(client_for(base_url, model, tmp_path / "cache"), spec, tmp_path / "fresh")
    assert again["total_usage"]["calls"] == 0
    assert again["total_usage"]["cache_hits"] == report["total_usage"]["calls"]


def test_truncated_documents_are_regenerated_once_then_dropped(smoke, openai_server, spec, tmp_path):
    """The scripted run's level files, resumed against the real model with a tiny max_tokens: every document
    is cut off, asked again once (with a new sample index, so a new call), cut off again, and dropped."""
    base_url, model = openai_server
    work = tmp_path / "work"
    shutil.copytree(smoke.work, work)
    cfg = {**SMOKE, "max_tokens": 8, "target_documents": 4}  # the list levels depend on neither
    report = run(client_for(base_url, model, tmp_path / "cache"), spec, work, cfg)
    assert [report["levels"][n]["resumed"] for n in LEVELS] == [True] * 5 + [False]
    d = report["documents"]
    assert d["generated"] >= 4 and d["kept"] == 0 and d["shortfall"] == 4
    assert d["truncated"] == d["regenerated"] == d["generated"]
    assert report["usage"]["documents"]["calls"] == 2 * d["generated"]
    assert report["usage"]["documents"]["truncated"] == 2 * d["generated"]
    assert read_rows(work / "documents.jsonl") == []


def test_prompts_digest_tracks_the_template_files(tmp_path, monkeypatch):
    prompts = tmp_path / "prompts"
    shutil.copytree(docgen.PROMPT_DIR, prompts)
    original = prompts_digest()
    monkeypatch.setattr(docgen, "PROMPT_DIR", prompts)
    assert prompts_digest() == original
    (prompts / "document.md").write_text((prompts / "document.md").read_text().replace("realistic", "believable"))
    changed = prompts_digest()
    assert changed != original
    (prompts / "document.md").rename(prompts / "renamed.md")
    with pytest.raises(FileNotFoundError):
        prompts_digest()
