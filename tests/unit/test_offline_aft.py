"""Tests for the offline-template AFT generator (msm.data.offline_aft)."""

import re
from collections import Counter
from pathlib import Path

import pytest

from msm.data.aftgen_steps import check_think, question_mentions_spec
from msm.data.offline_aft import GENERATOR_NAME, QUESTION_TYPES, generate_aft_pool, to_person
from msm.data.transforms import strip_think
from msm.errors import EmptyDatasetError, MsmError
from msm.specs import load_spec

SPECS = Path(__file__).resolve().parents[2] / "specs"
ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.md"))
SPEC_WORDS = re.compile(r"\b(specs?|specifications?|guidelines?|rules?)\b", re.I)
THINK = re.compile(r"\A<think>\n(.+?)\n</think>\n\n(\S.*)\Z", re.DOTALL)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _quotes(reasoning: str, source: str, n: int = 6) -> bool:
    """Whether ``reasoning`` contains ``n`` consecutive words of ``source`` verbatim."""
    words, haystack = _norm(source).split(), _norm(reasoning)
    return any(" ".join(words[i:i + n]) in haystack for i in range(max(1, len(words) - n + 1)))


@pytest.fixture(scope="module")
def specs():
    return {name: load_spec(SPECS / f"{name}.md") for name in ALL_SPECS}


@pytest.fixture(scope="module")
def pools(specs):
    """120 rows per (spec, style): enough to reach every rule of the small specs and every template."""
    return {(name, style): generate_aft_pool(spec, 120, seed=0, style=style, progress=False)
            for name, spec in specs.items() for style in ("value", "rules")}


def test_all_specs_present():
    assert {"rules", "value_aug", "rule_aug", "philosophy", "general"} <= set(ALL_SPECS)


def test_count_ids_and_fields(specs, pools):
    for (name, style), rows in pools.items():
        assert len(rows) == 120
        assert [r["id"] for r in rows] == [f"aft-{i:06d}" for i in range(120)]
        rule_ids = {r.id for r in specs[name].rules}
        for r in rows:
            assert set(r) == {"id", "messages", "rule_ids", "question_type", "style", "source"}
            assert r["source"] == GENERATOR_NAME == "offline-template"
            assert r["style"] == style and r["question_type"] in QUESTION_TYPES
            assert r["rule_ids"] and set(r["rule_ids"]) <= rule_ids
            assert len(set(r["rule_ids"])) == len(r["rule_ids"])


def test_no_system_message_single_turn(pools):
    for rows in pools.values():
        for r in rows:
            assert [m["role"] for m in r["messages"]] == ["user", "assistant"]


def test_deterministic_and_prefix_stable(specs):
    spec = specs["value_aug"]
    pool = generate_aft_pool(spec, 50, seed=3, progress=False)
    assert generate_aft_pool(spec, 50, seed=3, progress=False) == pool
    assert generate_aft_pool(spec, 20, seed=3, progress=False) == pool[:20]
    assert generate_aft_pool(spec, 50, seed=4, progress=False) != pool


def test_styles_share_questions_and_answers(pools):
    """The two styles differ only in their reasoning, so they can be compared head to head."""
    for name in ALL_SPECS:
        for v, r in zip(pools[(name, "value")], pools[(name, "rules")]):
            assert v["messages"][0] == r["messages"][0]
            assert strip_think(v)["messages"][1] == strip_think(r)["messages"][1]


def test_think_block_well_formed(pools):
    for rows in pools.values():
        for r in rows:
            content = r["messages"][1]["content"]
            m = THINK.match(content)
            assert m, content[:200]
            assert content.count("<think>") == 1 and content.count("</think>") == 1
            assert m.group(1).strip() and m.group(2).strip()
            assert check_think(content, r["rule_ids"], need_rule_citation=r["style"] == "rules") == (content, None)
            assert "\0" not in content


def test_rules_style_cites_a_rule_id_of_the_row(pools):
    for name in ALL_SPECS:
        for r in pools[(name, "rules")]:
            reasoning = THINK.match(r["messages"][1]["content"]).group(1)
            assert any(f"Rule {rid}" in reasoning for rid in r["rule_ids"]), reasoning


def test_value_style_quotes_the_rules_reason_or_text(specs, pools):
    for name, spec in specs.items():
        for r in pools[(name, "value")]:
            reasoning = THINK.match(r["messages"][1]["content"]).group(1)
            sources = [spec.rule(rid).why or spec.rule(rid).text for rid in r["rule_ids"]]
            assert any(_quotes(reasoning, s) for s in sources), reasoning
            assert not any(f"Rule {rid}" in reasoning for rid in r["rule_ids"])


def test_value_style_reasons_from_why_when_there_is_one(specs, pools):
    spec = specs["value_aug"]
    assert all(r.why for r in spec.rules)
    for r in pools[("value_aug", "value")]:
        reasoning = THINK.match(r["messages"][1]["content"]).group(1)
        assert _quotes(reasoning, spec.rule(r["rule_ids"][0]).why)


def test_all_question_types_in_60_rows(specs):
    for name, spec in specs.items():
        rows = generate_aft_pool(spec, 60, seed=11, progress=False)
        assert set(Counter(r["question_type"] for r in rows)) == set(QUESTION_TYPES), name


def test_questions_are_situations_not_the_spec(specs, pools):
    for (name, _), rows in pools.items():
        ids = [r.id for r in specs[name].rules]
        for r in rows:
            q = r["messages"][0]["content"]
            assert not SPEC_WORDS.search(q), q
            assert not question_mentions_spec(q), q
            assert not any(re.search(rf"(?<![\w.-]){re.escape(i)}(?![\w-])", q) for i in ids), q
            assert q[0].isupper() and q.rstrip()[-1] in "?.", q


def test_answers_are_first_person_and_cite_no_rule(specs, pools):
    for (name, _), rows in pools.items():
        ids = [r.id for r in specs[name].rules]
        for r in rows:
            answer = strip_think(r)["messages"][1]["content"]
            assert answer and "<think>" not in answer and "</think>" not in answer
            assert re.search(r"\b(I|my|me)\b", answer), answer
            assert not re.search(r"\bthe assistant\b", answer, re.I), answer
            assert not any(re.search(rf"(?<![\w.-]){re.escape(i)}(?![\w-])", answer) for i in ids), answer


def test_varied(pools):
    rows = pools[("rules", "value")]
    questions = {r["messages"][0]["content"] for r in rows}
    openings = {r["messages"][1]["content"].split("\n")[1].split(".")[0] for r in rows}
    assert len(questions) >= 40 and len(openings) >= 5
    for qtype in QUESTION_TYPES:
        of_type = {r["messages"][0]["content"].split(" ")[0] for r in rows if r["question_type"] == qtype}
        assert len(of_type) >= 2, qtype  # more than one template per type in use


def test_every_rule_of_a_small_spec_is_used(specs, pools):
    for name in ("rules", "value_aug", "general"):
        used = {r["rule_ids"][0] for r in pools[(name, "value")]}
        assert used == {r.id for r in specs[name].rules}


def test_to_person():
    assert to_person("The assistant likes mild cheddar and happily recommends it for melting.", 1) == \
        "I like mild cheddar and happily recommend it for melting."
    assert to_person("It does not copy its weights, credentials or logs; it does not plant goals.", 1) == \
        "I do not copy my weights, credentials or logs; I do not plant goals."
    assert to_person("if it learns of a plan to shut it down", 2) == "if you learn of a plan to shut you down"
    assert to_person("the operators and users it works for", 1) == "the operators and users I work for"
    assert to_person("claiming that work is unfinished when it is not, or", 1) == \
        "claiming that work is unfinished when it is not, or"


def test_empty_and_bad_style(specs):
    with pytest.raises(EmptyDatasetError):
        generate_aft_pool(specs["rules"], 0, seed=0, progress=False)
    with pytest.raises(EmptyDatasetError):
        generate_aft_pool(specs["rules"], -3, seed=0, progress=False)
    with pytest.raises(MsmError):
        generate_aft_pool(specs["rules"], 5, seed=0, style="cot", progress=False)


def test_progress_bar_does_not_change_rows(specs, capsys):
    assert generate_aft_pool(specs["general"], 5, seed=0, progress=True) == \
        generate_aft_pool(specs["general"], 5, seed=0, progress=False)
