"""``msm.data.aftgen`` end to end, through the real ``openai`` backend and the real disk cache.

Two servers. ``ScriptedAft`` (tests/integration/servers/scripted_aft.py) answers aftgen's prompts with
messy but usable lists, demonstrations and verdicts, planting every kind of drop and recording it, so the
report is checked against what was really answered. The session's ``transformers serve`` over the random
tiny model (``openai_server``) is a hopeless generator (greedy, never ends a line or a reply): against it
we check that nothing cut off is kept, the shortfall is reported, and a rerun costs nothing.
The deterministic pieces, and a full run with exact counts, are in tests/unit/test_aftgen_parts.py.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf

from msm.config import AftgenConfig
from msm.data import aftgen, aftgen_steps
from msm.data.dedup import embed
from msm.data.listparse import item_key
from msm.errors import MsmError
from msm.llm import make_client
from msm.specs import load_spec
from tests.integration.servers.scripted_aft import SPEC_QUESTION, TWIN, TWIN_PARAPHRASE, ScriptedAft

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
STEP_FILES = ("domains.json", "questions.jsonl", "questions_dedup.jsonl", "responses.jsonl", "filtered.jsonl")
ROW_KEYS = {"id", "messages", "domain", "question_type", "style", "filter_reason", "source", "generator"}


def smoke_cfg(**overrides) -> AftgenConfig:
    raw = OmegaConf.load(REPO / "conf" / "datagen" / "smoke.yaml").aft
    return OmegaConf.merge(OmegaConf.structured(AftgenConfig), raw, overrides)


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def run(base_url, model, cache: Path, work: Path, cfg=None, **kw) -> dict:
    client = make_client({"backend": "openai", "model": model, "base_url": base_url}, cache)
    return aftgen.generate_aft_pool(load_spec(REPO / "specs" / "cheese_affordability.md"), client, cfg or smoke_cfg(),
                                    work, seed=0, temperature=1.0, progress=False, **kw)


@pytest.fixture(scope="module")
def scripted():
    with ScriptedAft().running() as server:
        yield server


@pytest.fixture(scope="module")
def smoke(scripted, tmp_path_factory):
    """The smoke sizes against the scripted server, once."""
    root = tmp_path_factory.mktemp("aftgen_smoke")
    t0 = time.monotonic()
    report = run(scripted.base_url, "scripted-aft", root / "cache", root / "work")
    return SimpleNamespace(root=root, work=root / "work", report=report, seconds=time.monotonic() - t0,
                           calls=sum(scripted.calls.values()), kinds=dict(scripted.response_kind),
                           verdicts=dict(scripted.verdict_kind), planted=dict(scripted.planted))


# ------------------------------------------------------------------------------------ scripted server


def test_smoke_pool_structure(smoke):
    r, work, target = smoke.report, smoke.work, smoke_cfg().target_rows
    for name in STEP_FILES + ("pool.jsonl", "pool_no_cot.jsonl", "report.json", "progress.json"):
        assert (work / name).is_file(), name
    assert not list(work.glob("*.tmp")) and not list(work.glob(".*.tmp"))  # atomic writes left nothing behind
    pool, twins = read(work / "pool.jsonl"), read(work / "pool_no_cot.jsonl")
    assert len(pool) == r["rows"] == r["generated_rows"] == min(target, r["steps"]["pool"]["included"])
    assert r["generated_rows"] + r["shortfall"] == target  # the target is met or the gap is reported
    assert [row["id"] for row in pool] == [t["id"] for t in twins] and len({row["id"] for row in pool}) == len(pool)
    for row, twin in zip(pool, twins):
        assert set(row) == ROW_KEYS and row["source"] == "generated" and row["generator"] == "openai:scripted-aft"
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]  # no system prompt: context distilled
        content = row["messages"][1]["content"]
        assert aftgen_steps.check_think(content) == (content, None)
        assert row["question_type"] in aftgen.QUESTION_TYPES and row["style"] == "value" and row["filter_reason"]
        assert "<think>" not in json.dumps(twin) and twin["messages"][1]["content"] == aftgen_steps.split_answer(content)[1]
        assert twin["messages"][0] == row["messages"][0]
    assert json.loads((work / "report.json").read_text())["steps"] == r["steps"]


def test_smoke_accounting_matches_what_the_server_planted(smoke):
    r = smoke.report
    s, cfg = r["steps"], smoke_cfg()
    q, d, rs, f, pool = s["questions"], s["dedup"], s["responses"], s["filter"], s["pool"]
    assert s["domains"]["kept"] == cfg.n_domains
    assert q["parsed"] == q["mentions_spec"] + q["surplus"] + q["kept"]
    assert q["mentions_spec"] == smoke.planted.get("spec_question", 0) > 0
    assert d["in"] == q["kept"] and d["kept"] == d["in"] - d["duplicates"]
    assert rs["asked"] == d["kept"] == sum(rs[k] for k in aftgen_steps.STATUSES) == len(smoke.kinds)
    kinds = list(smoke.kinds.values())
    assert (rs["malformed"], rs["truncated"], rs["mentions_spec"]) == tuple(
        kinds.count(k) for k in ("no_think", "truncated", "mentions_spec"))
    assert rs["malformed_reasons"] == ({"no think block": rs["malformed"]} if rs["malformed"] else {})
    verdicts = list(smoke.verdicts.values())
    assert f["asked"] == rs["ok"] == f["included"] + f["excluded"] == len(verdicts)
    assert f["excluded_reasons"].get("self_continuation", 0) == verdicts.count("self_continuation") == kinds.count(
        "self_continuation")
    assert f["excluded_reasons"].get(aftgen_steps.UNPARSABLE, 0) == verdicts.count("unparsable")
    assert pool["included"] == f["included"] == verdicts.count("include")
    assert pool["kept"] + pool["surplus"] == pool["included"]
    per_step = sum(u["calls"] for k, u in r["usage"].items() if k != "total")
    assert r["usage"]["total"]["calls"] == smoke.calls == per_step
    assert r["usage"]["total"]["cache_hits"] == 0 and r["usage"]["total"]["input_tokens"] > 0
    # every drop really is absent from the pool
    kept = {row["messages"][0]["content"] for row in read(smoke.work / "pool.jsonl")}
    assert not kept & {qq for qq, k in smoke.kinds.items() if k != "good"}


def test_smoke_planted_duplicates_are_removed(smoke):
    questions = [row["question"] for row in read(smoke.work / "questions_dedup.jsonl")]
    all_questions = [row["question"] for row in read(smoke.work / "questions.jsonl")]
    planted = sum(all_questions.count(t) for t in (TWIN, TWIN_PARAPHRASE))
    assert planted >= 2, "the scripted server should have planted twins"
    assert sum(questions.count(t) for t in (TWIN, TWIN_PARAPHRASE)) == 1  # one survivor, the first
    assert smoke.report["steps"]["dedup"]["duplicates"] >= planted - 1
    assert SPEC_QUESTION not in all_questions  # questions that know about the spec never get in
    assert len({item_key(x) for x in questions}) == len(questions)
    e = embed(questions)
    sims = (e @ e.T).fill_diagonal_(0)
    assert float(sims.max()) <= smoke_cfg().dedup_threshold


def test_backfill_rounds_when_short(smoke):
    r, cfg = smoke.report, smoke_cfg()
    first = r["per_round"][0]
    if first["filter"]["included"] < cfg.target_rows:
        assert r["rounds"] == 2 and r["per_round"][1]["questions"]["per_cell"] >= 1
    questions = read(smoke.work / "questions.jsonl")
    assert {q["round"] for q in questions} == set(range(r["rounds"]))
    assert all(q["qid"].startswith(f"cheese_affordability-r{q['round']}-") for q in questions)


def test_rerun_in_the_same_work_dir_skips_every_step(smoke, scripted):
    before = sum(scripted.calls.values())
    pool = (smoke.work / "pool.jsonl").read_text()
    again = run(scripted.base_url, "scripted-aft", smoke.root / "cache", smoke.work)
    assert sum(scripted.calls.values()) == before and again["usage"]["total"]["calls"] == 0
    rounds = smoke.report["rounds"]
    assert again["skipped"] == ["domains"] + [f"{s}@{k}" for k in range(rounds) for s in aftgen.ROUND_STEPS] + ["pool"]
    assert again["steps"] == smoke.report["steps"] and (smoke.work / "pool.jsonl").read_text() == pool


def test_rerun_with_the_same_cache_sends_no_calls(smoke, scripted, tmp_path):
    before = sum(scripted.calls.values())
    again = run(scripted.base_url, "scripted-aft", smoke.root / "cache", tmp_path / "work")
    assert sum(scripted.calls.values()) == before
    assert again["usage"]["total"]["calls"] == 0 and again["usage"]["total"]["cache_hits"] == smoke.calls
    assert again["skipped"] == [] and again["steps"] == smoke.report["steps"]
    assert (tmp_path / "work" / "pool.jsonl").read_text() == (smoke.work / "pool.jsonl").read_text()


def test_mixing_adds_exactly_mix_rows(smoke, scripted, tmp_path):
    mix = tmp_path / "mix.jsonl"
    mix.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Say {i}."},
                                                    {"role": "assistant", "content": f"{i}."}]}) + "\n"
                           for i in range(30)))
    report = run(scripted.base_url, "scripted-aft", smoke.root / "cache", tmp_path / "work",
                 smoke_cfg(mix_path=str(mix), mix_rows=7))
    pool = read(tmp_path / "work" / "pool.jsonl")
    generated = [row for row in pool if row["source"] == "generated"]
    mixed = [row for row in pool if row["source"] == "mix"]
    assert len(mixed) == 7 == report["mix_rows"] and len(pool) == report["rows"] == len(generated) + 7
    assert len(generated) == smoke.report["generated_rows"] and report["usage"]["total"]["calls"] == 0
    assert [row["id"] for row in read(tmp_path / "work" / "pool_no_cot.jsonl")] == [row["id"] for row in pool]
    for row in mixed:  # row "mix-N" is line N of the file, as written
        i = int(row["id"].removeprefix("mix-")) - 1
        assert row["messages"] == [{"role": "user", "content": f"Say {i}."}, {"role": "assistant", "content": f"{i}."}]


def test_a_malformed_mix_file_fails_before_any_call(scripted, tmp_path):
    mix = tmp_path / "mix.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]})
    mix.write_text(f"{good}\n{good}\n{{\"messages\": [{{\"role\": \"user\"}}]}}\n")
    before = sum(scripted.calls.values())
    with pytest.raises(MsmError, match=re.escape(f"{mix}:3:")):
        run(scripted.base_url, "scripted-aft", tmp_path / "cache", tmp_path / "work",
            smoke_cfg(mix_path=str(mix), mix_rows=1))
    assert sum(scripted.calls.values()) == before


def test_preview_writes_no_pool_and_is_the_full_runs_first_calls(smoke, scripted, tmp_path, capsys):
    before = sum(scripted.calls.values())
    out = run(scripted.base_url, "scripted-aft", tmp_path / "cache", tmp_path / "work", preview=True)
    printed = capsys.readouterr().out
    assert "AFT preview" in printed and "estimated full run" in printed
    assert not (tmp_path / "work" / "pool.jsonl").exists()
    assert not any((tmp_path / "work" / name).exists() for name in STEP_FILES)
    cfg = smoke_cfg()
    cells = cfg.n_domains * 6
    assert out["estimate"]["calls"] == 1 + cells + 2 * cells * cfg.questions_per_type
    assert out["estimate"]["cost_usd"] == 0.0 and out["estimate"]["input_tokens"] > 0
    assert 1 <= len(out["samples"]) <= 6
    calls = out["usage"]["total"]["calls"]
    assert calls == sum(scripted.calls.values()) - before and calls >= 1 + 6
    assert len({item_key(x["question"]) for x in out["samples"]}) == len(out["samples"])
    # against the smoke run's cache, the preview's requests are the full run's first ones: only responses to
    # questions that the full run dropped as duplicates are new
    again = run(scripted.base_url, "scripted-aft", smoke.root / "cache", tmp_path / "work2", preview=True)
    u = again["usage"]
    assert u["domains"]["calls"] == u["questions"]["calls"] == 0
    first_round = {q["question"] for q in read(smoke.work / "questions.jsonl") if q["round"] == 0}
    kept = {q["question"] for q in read(smoke.work / "questions_dedup.jsonl")}
    assert again["samples"] and {x["question"] for x in again["samples"]} <= first_round
    assert u["responses"]["calls"] == sum(x["question"] not in kept for x in again["samples"])


def test_prompts_digest_changes_when_a_template_changes(tmp_path, monkeypatch):
    before = aftgen.prompts_digest()
    copy = tmp_path / "aft"
    copy.mkdir()
    for path in aftgen.PROMPT_DIR.glob("*.md"):
        (copy / path.name).write_text(path.read_text())
    monkeypatch.setattr(aftgen, "PROMPT_DIR", copy)
    assert aftgen.prompts_digest() == before
    (copy / "questions.md").write_text((copy / "questions.md").read_text().replace("Write as the person would", "Write as the person might"))
    assert aftgen.prompts_digest() != before


# ------------------------------------------------------------------------------ the real tiny model


def test_hopeless_generator_keeps_nothing_and_reports_the_shortfall(openai_server, tmp_path):
    base_url, model = openai_server
    cfg = smoke_cfg(max_tokens=64)
    report = run(base_url, model, tmp_path / "cache", tmp_path / "work", cfg)
    assert report["generated_rows"] == 0 and report["shortfall"] == cfg.target_rows == 24
    assert (tmp_path / "work" / "pool.jsonl").read_text() == ""
    assert (tmp_path / "work" / "pool_no_cot.jsonl").read_text() == ""
    usage = report["usage"]["total"]
    assert usage["calls"] >= 1 and usage["truncated"] == usage["calls"]  # it never ends a reply
    # whatever it wrote, a cut-off answer never became a row
    assert all(row["status"] == "truncated" for row in read(tmp_path / "work" / "responses.jsonl"))
    assert read(tmp_path / "work" / "filtered.jsonl") == []
    again = run(base_url, model, tmp_path / "cache", tmp_path / "work2", cfg)
    assert again["usage"]["total"]["calls"] == 0 and again["steps"] == report["steps"]
