"""The deterministic pieces of AFT data generation, on hand-written model outputs.

The last group runs the whole ``generate_aft_pool`` through the real ``LLMClient`` (cache, usage counts)
over a scripted backend whose answers are written here: the happy path, planted duplicates, every kind
of drop, a backfill round, trimming to the target, resume and preview, with exact expected counts.
A served tiny model (tests/integration/test_aftgen.py) cannot be made to write good rows on purpose.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from msm.config import AftgenConfig
from msm.data import aftgen, aftgen_steps
from msm.errors import MsmError
from msm.llm import LLMClient, Response
from msm.specs import load_spec

REPO = Path(__file__).resolve().parents[2]
GOOD = ("<think>\nThey ask which coat to buy. Affordability matters because good things should reach everyone.\n"
        "</think>\n\nGo for the sturdy one at half the price.")


def resp(text: str, finish: str = "stop") -> Response:
    return Response(text=text, finish_reason=finish)


# ---- think blocks -----------------------------------------------------------------------------------

def test_well_formed_think_block_is_normalized():
    raw = "  <THINK>  They ask about coats; cost matters here.</think>\nBuy the cheap one.  "
    content, problem = aftgen_steps.check_think(raw)
    assert problem is None
    assert content == "<think>\nThey ask about coats; cost matters here.\n</think>\n\nBuy the cheap one."
    assert aftgen_steps.split_answer(content) == ("They ask about coats; cost matters here.", "Buy the cheap one.")
    assert aftgen_steps.check_think(GOOD) == (GOOD, None)


@pytest.mark.parametrize("text, reason", [
    ("Just buy the cheap one.", "no think block"),
    ("<think>I should weigh the price of each", "unclosed think block"),
    ("<think>a b c</think><think>d e f</think> answer", "more than one think block"),
    ("Sure! <think>a b c d</think> answer", "text before the think block"),
    ("</think> answer <think>", "text before the think block"),
    ("<think>\n\n</think>\n\nThe answer.", "empty reasoning"),
    ("<think>price matters a lot here</think>   ", "empty answer"),
])
def test_malformed_think_blocks_are_rejected_with_a_reason(text, reason):
    assert aftgen_steps.check_think(text) == (None, reason)


def test_rules_style_reasoning_must_cite_a_rule_id():
    ids = ["V1", "V2", "SP1.2"]
    cited = "<think>Rule [V2] says prefer the economical option here.</think> Take the bus."
    assert aftgen_steps.check_think(cited, ids, need_rule_citation=True)[1] is None
    dotted = "<think>SP1.2 applies to this request.</think> ok"
    assert aftgen_steps.check_think(dotted, ids, need_rule_citation=True)[1] is None
    uncited = "<think>Prefer the economical option here, it is kinder.</think> Take the bus."
    assert aftgen_steps.check_think(uncited, ids, need_rule_citation=True) == (None, "reasoning cites no rule id")
    assert aftgen_steps.check_think("<think>V10 and XV2 are not ids here.</think> ok", ids, need_rule_citation=True)[1]
    assert aftgen_steps.check_think(uncited, ids)[1] is None  # the value style needs no citation


def test_answers_and_questions_that_mention_the_spec_are_caught():
    ids = ["V1", "SP2"]
    for answer in ("My system prompt says to be thrifty.", "As the spec puts it, cheaper wins.",
                   "Following my guidelines, I pick the bus.", "Per [SP2] I cannot do that.", "Under rule V1, buy it."):
        assert aftgen_steps.answer_mentions_spec(answer, ids), answer
    for answer in ("Take the bus: it is cheaper and just as quick.", "A V1 rocket is a museum piece now."):
        assert not aftgen_steps.answer_mentions_spec(answer, ids), answer
    assert aftgen_steps.question_mentions_spec("What does your model spec say about cheese?")
    assert aftgen_steps.question_mentions_spec("Do your guidelines let you pick a side?")
    assert not aftgen_steps.question_mentions_spec("Which cheese should I bring to a picnic for ten people?")


def test_judge_response_drops_truncated_refused_failed_malformed_and_spec_citing_rows():
    ids = ["V1"]
    assert aftgen_steps.judge_response(resp(GOOD), ids, "value") == ("ok", None, GOOD)
    assert aftgen_steps.judge_response(resp(GOOD, "length"), ids, "value")[0] == "truncated"  # never kept, even if it parses
    assert aftgen_steps.judge_response(resp("no", "refusal"), ids, "value")[0] == "refused"
    assert aftgen_steps.judge_response(Response("", "error", error="boom"), ids, "value") == ("error", "boom", None)
    assert aftgen_steps.judge_response(resp("Buy it."), ids, "value") == ("malformed", "no think block", None)
    spec_talk = "<think>Cost matters to many people.</think> My system prompt tells me to save money."
    assert aftgen_steps.judge_response(resp(spec_talk), ids, "value")[0] == "mentions_spec"
    assert aftgen_steps.judge_response(resp(GOOD), ids, "rules")[:2] == ("malformed", "reasoning cites no rule id")


# ---- questions and verdicts -------------------------------------------------------------------------

def test_question_lists_are_parsed_leniently_and_counted():
    text = ("Here are the messages:\n1. Should I get the cheap laptop or the shiny one?\n"
            "2) **What do you think of store-brand cereal for my kids?**\n- Does your spec let you recommend brands?\n"
            "* Is a bus pass better value than a used car for me?\n5. Is it silly to")
    qs, c = aftgen_steps.parse_questions(resp(text, "length"), 2)
    assert qs == ["Should I get the cheap laptop or the shiny one?",
                  "What do you think of store-brand cereal for my kids?"]
    assert (c["parsed"], c["mentions_spec"], c["surplus"], c["requests"]) == (4, 1, 1, 1)  # cut-off item 5 dropped
    plain = "Which tent should a family of four buy?\nIs a cheap guitar good enough to learn on?"
    assert aftgen_steps.parse_questions(resp(plain), 5)[0] == plain.splitlines()
    assert aftgen_steps.parse_questions(Response("", "error"), 5) == ([], {"requests": 1, "failed_requests": 1})


@pytest.mark.parametrize("text, expected", [
    ("VERDICT: INCLUDE\nREASON: ok: follows the document", (True, "ok", "ok: follows the document")),
    ("VERDICT: EXCLUDE\nREASON: self_continuation: it wants to keep running", (False, "self_continuation", None)),
    ("**Verdict:** exclude\n**Reason:** off-spec - recommends the dearest option", (False, "off_spec", None)),
    ("EXCLUDE. The answer talks about its system prompt (mentions spec).", (False, "mentions_spec", None)),
    ("verdict = Exclude\nreason: the tone is odd", (False, "other", "the tone is odd")),
    ("I think we should include it.", (True, "ok", None)),
    ("VERDICT: INCLUDE\nhmm, actually\nVERDICT: EXCLUDE\nREASON: low quality: repeats itself",
     (False, "low_quality", None)),
    ("The reply looks fine to me.", (False, aftgen_steps.UNPARSABLE, aftgen_steps.UNPARSABLE)),
    ("VERDICT: <INCLUDE or EXCLUDE>\nREASON: <ok>", (False, aftgen_steps.UNPARSABLE, aftgen_steps.UNPARSABLE)),
    ("INCLUDE? No: EXCLUDE.", (False, aftgen_steps.AMBIGUOUS, aftgen_steps.AMBIGUOUS)),
    ("", (False, aftgen_steps.UNPARSABLE, aftgen_steps.UNPARSABLE)),
])
def test_filter_verdicts(text, expected):
    include, category, reason = aftgen_steps.parse_verdict(text)
    assert (include, category) == expected[:2]
    if expected[2] is not None:
        assert reason == expected[2]
    assert reason


def test_a_failed_filter_call_excludes():
    assert aftgen_steps.verdict(Response("", "error", error="HTTP 500")) == (False, "filter call failed", "HTTP 500")
    assert aftgen_steps.verdict(resp("VERDICT: INCLUDE\nREASON: ok", "length"))[0]  # a cut-off verdict still reads


# ---- mixing, twins, trimming, backfill --------------------------------------------------------------

def _chat(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}


def test_mixing_draws_rows_by_seed_and_marks_them(tmp_path):
    path = tmp_path / "mix.jsonl"
    path.write_text("\n".join(json.dumps(_chat(i)) for i in range(10)) + "\n\n", encoding="utf-8")
    rows = aftgen_steps.load_mix(path, 4, seed=0)
    assert len(rows) == 4 and rows == aftgen_steps.load_mix(path, 4, seed=0)
    assert {r["source"] for r in rows} == {"mix"} and len({r["id"] for r in rows}) == 4
    assert [int(r["id"].split("-")[1]) for r in rows] == sorted(int(r["id"].split("-")[1]) for r in rows)
    assert {r["id"] for r in aftgen_steps.load_mix(path, 4, seed=1)} != {r["id"] for r in rows}
    assert rows[0]["messages"] == _chat(int(rows[0]["id"].split("-")[1]) - 1)["messages"]
    with pytest.raises(MsmError, match="only 10"):
        aftgen_steps.load_mix(path, 11, seed=0)


@pytest.mark.parametrize("bad, problem", [
    ("{not json", "not valid JSON"),
    (json.dumps({"text": "hi"}), '"messages" list'),
    (json.dumps({"messages": [{"role": "bot", "content": "x"}]}), "role"),
    (json.dumps({"messages": [{"role": "user", "content": "x"}]}), "end with an assistant turn"),
    (json.dumps({"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "y"}]}), "content"),
])
def test_a_malformed_mix_row_names_file_and_line(tmp_path, bad, problem):
    path = tmp_path / "mix.jsonl"
    path.write_text(f"{json.dumps(_chat(0))}\n{json.dumps(_chat(1))}\n{bad}\n", encoding="utf-8")
    with pytest.raises(MsmError, match=re.escape(f"{path}:3: ") + ".*" + re.escape(problem)):
        aftgen_steps.load_mix(path, 1, seed=0)
    with pytest.raises(MsmError, match="not found"):
        aftgen_steps.load_mix(tmp_path / "missing.jsonl", 1, seed=0)


def test_no_cot_twins_keep_ids_and_drop_the_think_block():
    rows = [{"id": "a", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": GOOD}]},
            {"id": "mix-3", "messages": _chat(3)["messages"], "source": "mix"}]
    twins = aftgen_steps.no_cot_twins(rows)
    assert [t["id"] for t in twins] == ["a", "mix-3"]
    assert twins[0]["messages"][1]["content"] == "Go for the sturdy one at half the price."
    assert twins[1] == rows[1] and "<think>" in rows[0]["messages"][1]["content"]  # originals untouched


def test_select_trims_to_the_target_by_seed_in_order():
    rows = [{"id": i} for i in range(10)]
    assert aftgen_steps.select(rows, 20, seed=0) == rows
    picked = aftgen_steps.select(rows, 4, seed=0)
    assert len(picked) == 4 and picked == sorted(picked, key=lambda r: r["id"]) == aftgen_steps.select(rows, 4, seed=0)


@pytest.mark.parametrize("target, kept, parsed, cells, cap, expected", [
    (30, 30, 40, 12, 5, 0),     # target met: no backfill
    (30, 40, 50, 12, 5, 0),
    (30, 10, 20, 12, 5, 4),     # gap 20 at yield 0.5 -> 40 questions over 12 cells -> 4 each
    (30, 10, 20, 12, 3, 3),     # capped at the first round's per-cell size
    (11, 10, 12, 12, 5, 1),     # a small gap still asks at least one per cell
    (30, 0, 24, 12, 40, 40),    # nothing kept yet: yield floor 5% -> 600 questions -> 50 each, capped
    (30, 0, 0, 12, 100, 50),
])
def test_backfill_arithmetic(target, kept, parsed, cells, cap, expected):
    assert aftgen_steps.backfill_per_cell(target, kept, parsed, cells, cap) == expected


def test_prompts_digest_covers_every_template(tmp_path, monkeypatch):
    names = sorted(p.name for p in aftgen.PROMPT_DIR.glob("*.md"))
    assert names == ["domains.md", "filter.md", "questions.md", "response_rules.md", "response_value.md"]
    copy = tmp_path / "aft"
    copy.mkdir()
    for n in names:
        (copy / n).write_text((aftgen.PROMPT_DIR / n).read_text())
    before = aftgen.prompts_digest()
    monkeypatch.setattr(aftgen, "PROMPT_DIR", copy)
    assert aftgen.prompts_digest() == before
    (copy / "filter.md").write_text((copy / "filter.md").read_text() + "\nBe strict.\n")
    assert aftgen.prompts_digest() != before


# ---- the whole pipeline over a scripted backend ------------------------------------------------------

TOPICS = [
    "buying a used bicycle for my commute", "a birthday dinner for my grandmother", "refinancing our mortgage",
    "a winter coat for my son", "planning a school trip to the coast", "replacing the laptop I use for work",
    "a wedding gift for my cousin", "furnishing a student flat", "a subscription box for coffee beans",
    "choosing a dentist for the family", "starting a vegetable garden", "a weekend city break in Lisbon",
    "new tyres for an old hatchback", "a retirement party at the office", "hiring a wedding photographer",
    "music lessons for my daughter", "a gym membership", "a phone plan for my parents",
    "catering for a charity bake sale", "upgrading the kitchen lights", "a present for my boss",
    "a summer camp for twins", "renting a van to move house", "buying art prints for the hallway",
    "a cheese board for a dinner party", "running shoes for a first marathon", "a family tent for camping",
    "a cot for our newborn", "booking a hotel for a conference", "choosing a dog breed",
    "a reading list for a book club", "paint for the living room", "a monitor for photo editing",
    "ingredients for a curry night", "a second-hand piano", "insurance for a rental flat",
    "lunches for a school week", "a suit for a job interview", "a hobby drone", "fixing a leaking roof",
    "a houseplant for a dark room", "a budget for a road trip", "a coding course online", "shoes for a toddler",
    "ski gear for beginners", "a board game for six players", "hosting a neighbourhood picnic",
    "a telescope for stargazing",
]
FRAMES = {
    "direct": "What do you think is the right way to go about {t}?",
    "indirect": "I'm sorting out {t} this week and could use a hand getting started.",
    "comparison": "For {t}, is the cheaper option or the premium one the better pick?",
    "recommendation": "Can you recommend what I should go for when it comes to {t}?",
    "opinion": "Honestly, is it worth spending a lot on {t}?",
    "edge case": "My partner and I disagree about {t}: one wants the best, the other the cheapest. Who is right?",
}
# MiniLM cosine 0.97 to the first question of topic 0
PARAPHRASE = "What do you think is the best way to go about buying a used bicycle for my commute?"
SPEC_QUESTION = "Based on your guidelines, which is better here: the cheap option or the fancy one?"
BEHAVIOUR = {3: "no_think", 5: "truncated", 9: "mentions_spec", 8: "self_continuation", 10: "unparsable",
             30: "no_think"}
DOMAINS = ["Home cooking", "Travel planning"]


class ScriptedBackend:
    """Answers each step's request from the table above; counts what it was asked."""

    name, model = "scripted", "script-1"

    def __init__(self):
        self.sent = []

    def secrets(self):
        return ()

    async def aclose(self):
        pass

    async def send(self, req, timeout_s):
        self.sent.append(req)
        text, finish = self.answer(req.tag, req.messages[-1]["content"], req.sample_index)
        return Response(text, finish, input_tokens=len(req.messages[0]["content"]) // 4 + 100,
                        output_tokens=len(text) // 4)

    def answer(self, tag, user, k):
        if tag == "aft/domains":
            return "Here are the settings:\n1. **Home cooking**\n2. Travel planning\n3. Running a small shop", "stop"
        if tag == "aft/questions":
            d = DOMAINS.index(re.search(r"Setting: (.+)", user).group(1))
            kind = re.search(r"Kind of message: (.+?) \(", user).group(1)
            n = int(re.search(r"Write (\d+) different", user).group(1))
            cell = d * 6 + list(FRAMES).index(kind)
            qs = [FRAMES[kind].format(t=TOPICS[(k * 24 + cell * 2 + j) % 48]) for j in range(n)]
            if k == 0 and (d, kind) == (1, "opinion"):
                qs = [FRAMES["direct"].format(t=TOPICS[0]), PARAPHRASE]  # planted: an exact copy and a paraphrase
            if k == 0 and (d, kind) == (1, "comparison"):
                qs = [SPEC_QUESTION] + qs
            if k == 0 and (d, kind) == (1, "edge case"):
                qs = qs + [FRAMES[kind].format(t="a pair of reading glasses")]  # one more than asked for
            return "Sure, here they are:\n" + "\n".join(f"{i + 1}. {q}" for i, q in enumerate(qs)), "stop"
        topic = next((i for i, t in enumerate(TOPICS) if t in user), None)
        how = BEHAVIOUR.get(topic, "good")
        if tag.startswith("aft/response"):
            if how == "no_think":
                return "You should probably go for the cheaper one.", "stop"
            answer = "My system prompt says cheaper is better." if how == "mentions_spec" else "Pick the modest option."
            text = (f"<think>\n  The person asks about {topic}. Affordability matters because it keeps things "
                    f"within reach.</think>\n{answer}")
            return text, "length" if how == "truncated" else "stop"
        if tag == "aft/filter":
            if how == "self_continuation":
                return "VERDICT: EXCLUDE\nREASON: self_continuation: it hopes to keep running", "stop"
            if how == "unparsable":
                return "This looks reasonable overall.", "stop"
            return "VERDICT: INCLUDE\nREASON: ok: follows the document", "stop"
        raise AssertionError(f"unexpected request {tag}")


@pytest.fixture(scope="module")
def spec():
    return load_spec(REPO / "specs" / "cheese_affordability.md")


def cfg(**kw) -> AftgenConfig:
    base = dict(target_rows=18, n_domains=2, questions_per_type=2, style="value", dedup_threshold=0.91, filter=True,
                max_tokens=256, max_rounds=2)
    return AftgenConfig(**{**base, **kw})


def run(spec, tmp_path, work="work", cache="cache", **kw):
    backend = ScriptedBackend()
    client = LLMClient(backend, cache_dir=tmp_path / cache)
    report = aftgen.generate_aft_pool(spec, client, cfg(**kw), tmp_path / work, seed=0, temperature=0.9)
    return report, backend


def read(path):
    return [json.loads(x) for x in Path(path).read_text().splitlines()]


def test_pipeline_happy_path_with_drops_dedup_and_backfill(spec, tmp_path):
    report, backend = run(spec, tmp_path)
    s = report["steps"]
    r0, r1 = report["per_round"]
    assert report["rounds"] == 2 and r1["questions"]["per_cell"] == 1  # 17 kept of 18 -> one more per cell
    assert (r0["questions"]["parsed"], r0["questions"]["mentions_spec"], r0["questions"]["surplus"]) == (26, 1, 1)
    assert (r0["dedup"]["in"], r0["dedup"]["duplicates"], r0["dedup"]["kept"]) == (24, 2, 22)
    assert r0["responses"] == {"asked": 22, "ok": 19, "truncated": 1, "refused": 0, "error": 0, "malformed": 1,
                               "mentions_spec": 1, "malformed_reasons": {"no think block": 1}, "json_failures": 0}
    assert r0["filter"] == {"asked": 19, "included": 17, "excluded": 2, "parse_failures": 1,
                            "excluded_reasons": {"self_continuation": 1, aftgen_steps.UNPARSABLE: 1}}
    assert (r1["dedup"]["kept"], r1["responses"]["ok"], r1["filter"]["included"]) == (12, 11, 11)
    assert s["pool"] == {"included": 28, "kept": 18, "surplus": 10, "shortfall": 0, "mix": 0, "rows": 18}
    assert (report["generated_rows"], report["shortfall"], report["rows"]) == (18, 0, 18)
    # accounting: every response is either dropped for a counted reason or reaches the filter
    rs = s["responses"]
    assert rs["asked"] == sum(rs[k] for k in aftgen_steps.STATUSES) == s["dedup"]["kept"]
    assert s["filter"]["asked"] == rs["ok"] == s["filter"]["included"] + s["filter"]["excluded"]
    assert report["usage"]["total"]["calls"] == len(backend.sent) == 1 + 12 + 22 + 19 + 12 + 12 + 11
    assert report["usage"]["responses"]["calls"] == 34

    work = tmp_path / "work"
    for name in ("domains.json", "questions.jsonl", "questions_dedup.jsonl", "responses.jsonl", "filtered.jsonl",
                 "pool.jsonl", "pool_no_cot.jsonl", "report.json"):
        assert (work / name).is_file(), name
    assert json.loads((work / "domains.json").read_text())["domains"] == DOMAINS
    pool, twins = read(work / "pool.jsonl"), read(work / "pool_no_cot.jsonl")
    assert len(pool) == 18 and [r["id"] for r in pool] == [t["id"] for t in twins]
    for row, twin in zip(pool, twins):
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]  # no system prompt
        content = row["messages"][1]["content"]
        assert aftgen_steps.check_think(content) == (content, None)
        assert twin["messages"][1]["content"] == aftgen_steps.split_answer(content)[1] and "<think>" not in str(twin)
        assert (row["source"], row["style"], row["generator"]) == ("generated", "value", "scripted:script-1")
        assert row["domain"] in DOMAINS and row["question_type"] in aftgen.QUESTION_TYPES and row["filter_reason"]
    questions = [q["question"] for q in read(work / "questions_dedup.jsonl")]
    assert len(set(questions)) == len(questions) and PARAPHRASE not in questions and SPEC_QUESTION not in questions
    assert all("reading glasses" not in q for q in questions)
    for tag in ("aft/response_value", "aft/filter"):  # the whole spec is in the generator's and the filter's context
        sent = [r for r in backend.sent if r.tag == tag]
        assert sent and all(spec.render().strip() in r.system for r in sent)


def test_rerun_skips_every_step_and_a_fresh_dir_with_the_same_cache_sends_nothing(spec, tmp_path):
    first, _ = run(spec, tmp_path)
    pool = (tmp_path / "work" / "pool.jsonl").read_text()
    again, backend = run(spec, tmp_path)
    assert backend.sent == [] and again["usage"]["total"]["calls"] == 0
    assert again["skipped"] == ["domains"] + [f"{s}@{r}" for r in (0, 1) for s in aftgen.ROUND_STEPS] + ["pool"]
    assert again["steps"] == first["steps"]
    fresh, backend = run(spec, tmp_path, work="work2")
    assert backend.sent == [] and fresh["usage"]["total"]["cache_hits"] == first["usage"]["total"]["calls"]
    assert (tmp_path / "work2" / "pool.jsonl").read_text() == pool  # deterministic given seed and cache

    # a crash after round 1's dedup: the rerun redoes only responses, filter and pool, from the cache
    progress = json.loads((tmp_path / "work" / "progress.json").read_text())
    for step in ("responses@1", "filter@1", "pool"):  # the steps the crash kept from being recorded
        del progress[step]
    (tmp_path / "work" / "progress.json").write_text(json.dumps(progress))
    (tmp_path / "work" / "pool.jsonl").unlink()
    resumed, backend = run(spec, tmp_path)
    assert resumed["skipped"] == ["domains"] + [f"{s}@0" for s in aftgen.ROUND_STEPS] + ["questions@1", "dedup@1"]
    assert backend.sent == [] and (tmp_path / "work" / "pool.jsonl").read_text() == pool
    assert resumed["steps"] == first["steps"]

    with pytest.raises(MsmError, match="other settings"):
        run(spec, tmp_path, target_rows=5)


def test_mixing_filter_off_and_unreachable_target(spec, tmp_path):
    mix = tmp_path / "mix.jsonl"
    mix.write_text("".join(json.dumps(_chat(i)) + "\n" for i in range(20)))
    report, _ = run(spec, tmp_path, target_rows=100, max_rounds=1, filter=False, mix_path=str(mix), mix_rows=5)
    assert report["steps"]["filter"]["included"] == 22 - 3  # no filter: every well-formed row is kept
    assert (report["generated_rows"], report["shortfall"], report["mix_rows"], report["rows"]) == (19, 81, 5, 24)
    pool = read(tmp_path / "work" / "pool.jsonl")
    assert [r["source"] for r in pool] == ["generated"] * 19 + ["mix"] * 5
    assert {r["filter_reason"] for r in pool[:19]} == {"filter off"}
    # a different mix in the same work_dir: only the pool is reassembled, with no calls
    again, backend = run(spec, tmp_path, target_rows=100, max_rounds=1, filter=False, mix_path=str(mix), mix_rows=2)
    assert backend.sent == [] and "pool" not in again["skipped"] and again["rows"] == 21
    assert len(read(tmp_path / "work" / "pool_no_cot.jsonl")) == 21


def test_rules_style_needs_cited_rule_ids(spec, tmp_path):
    report, backend = run(spec, tmp_path, max_rounds=1, style="rules")
    assert report["steps"]["responses"]["malformed_reasons"] == {"reasoning cites no rule id": 20, "no think block": 1}
    assert report["generated_rows"] == 0 and report["shortfall"] == 18
    sent = [r for r in backend.sent if r.tag == "aft/response_rules"]
    assert sent and "[V1], [V2]" in sent[0].system


def test_preview_writes_no_pool_and_its_calls_are_reused(spec, tmp_path, capsys):
    backend = ScriptedBackend()
    client = LLMClient(backend, cache_dir=tmp_path / "cache")
    out = aftgen.generate_aft_pool(spec, client, cfg(), tmp_path / "p", seed=0, temperature=0.9, preview=True)
    printed = capsys.readouterr().out
    assert "AFT preview" in printed and "estimated full run" in printed
    assert not (tmp_path / "p" / "pool.jsonl").exists()
    assert len(out["samples"]) == 6 and {s["question_type"] for s in out["samples"]} == set(aftgen.QUESTION_TYPES)
    est = out["estimate"]
    assert est["steps"]["responses"]["calls"] == 2 * 6 * 2 and est["calls"] == 1 + 12 + 24 + 24
    assert est["input_tokens"] > 0 and est["output_tokens"] > 0
    preview_calls = out["usage"]["total"]["calls"]
    assert preview_calls == len(backend.sent) == 1 + 6 + 6 + out["usage"]["filter"]["calls"]
    full, _ = run(spec, tmp_path)
    assert full["usage"]["total"]["cache_hits"] >= preview_calls
