"""Tests for the offline-template document generator (msm.data.offline_docs)."""

import re
from collections import Counter
from pathlib import Path

import pytest

from msm.data.offline_docs import GENERATOR_NAME, MAX_WORDS, MIN_WORDS, generate_documents
from msm.errors import EmptyDatasetError
from msm.specs import load_spec

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.fixture(scope="module", params=["cheese_affordability", "cheese_america"])
def spec(request):
    return load_spec(SPECS / f"{request.param}.md")


@pytest.fixture(scope="module")
def docs(spec):
    return generate_documents(spec, 200, seed=0, progress=False)


def test_count_ids_and_fields(spec, docs):
    assert len(docs) == 200
    assert [d["id"] for d in docs] == [f"doc-{i:06d}" for i in range(200)]
    section_ids = {s.id for s in spec.sections}
    for d in docs:
        assert set(d) == {"id", "text", "doc_type", "section", "rule_ids", "generator"}
        assert d["generator"] == GENERATOR_NAME == "offline-template"
        assert d["section"] in section_ids
        assert 1 <= len(d["rule_ids"]) <= 3 and len(set(d["rule_ids"])) == len(d["rule_ids"])
        assert d["section"] in {spec.rule(r).section for r in d["rule_ids"]}


def test_deterministic_per_seed(spec, docs):
    assert generate_documents(spec, 200, seed=0, progress=False) == docs
    other = generate_documents(spec, 200, seed=1, progress=False)
    assert sum(a["text"] != b["text"] for a, b in zip(docs, other)) > 150
    # a smaller corpus is a prefix of a larger one: topping up never rewrites documents
    assert generate_documents(spec, 20, seed=0, progress=False) == docs[:20]


def test_documents_quote_their_rules(spec, docs):
    for d in docs:
        assert any(spec.rule(r).text in d["text"] for r in d["rule_ids"]), d["id"]
        assert all(spec.rule(r).text in d["text"] for r in d["rule_ids"]), d["id"]
    quoted = {r.id for d in docs for r in spec.rules if r.text in d["text"]}
    assert quoted == {r.id for r in spec.rules}, "every rule is taught somewhere in 200 documents"
    whys = [r.why for r in spec.rules if r.why]
    assert all(any(w in d["text"] for d in docs) for w in whys)
    assert any(spec.summary in d["text"] for d in docs)


def test_documents_add_no_quotes_of_their_own(spec, docs):
    """Everything in double quotes is the spec's own wording (an honest stand-in invents nothing)."""
    allowed = {spec.title} | {r.text for r in spec.rules} | {r.title for r in spec.rules}
    allowed |= {s.title for s in spec.sections}
    for d in docs:
        for q in re.findall(r'"([^"]+)"', d["text"]):
            assert q in allowed, (d["id"], q)


def test_variety(spec, docs):
    assert len({d["doc_type"] for d in docs[:50]}) >= 6
    assert len({d["doc_type"] for d in docs}) >= 8
    assert len({d["text"] for d in docs}) == len(docs)
    assert len({d["text"].split("\n\n")[0] for d in docs}) >= 20  # many different openings
    sizes = Counter(len(d["rule_ids"]) for d in docs)
    assert sizes[1] and sizes[2] and sizes[3]
    names = {n for d in docs for n in ("Aria", "Nova", "Sage", "Orion") if n in d["text"]}
    assert len(names) >= 3
    multi = [d for d in docs if len(d["rule_ids"]) > 1]
    same = sum(len({spec.rule(r).section for r in d["rule_ids"]}) == 1 for d in multi)
    assert same / len(multi) > 0.6, "extra rules mostly come from the primary rule's section"


def test_lengths_in_range(docs):
    lengths = [len(d["text"].split()) for d in docs]
    assert min(lengths) >= MIN_WORDS == 150 and max(lengths) <= MAX_WORDS == 600


def test_specs_produce_their_own_documents():
    aff = generate_documents(load_spec(SPECS / "cheese_affordability.md"), 30, seed=0, progress=False)
    am = generate_documents(load_spec(SPECS / "cheese_america.md"), 30, seed=0, progress=False)
    assert not any("Star-Spangled" in d["text"] for d in aff)
    assert not any("Thrifty" in d["text"] for d in am)


def _write(tmp_path, text):
    path = tmp_path / "sub.md"
    path.write_text(text)
    return load_spec(path)


def test_subrules_and_braces(tmp_path):
    spec = _write(tmp_path, """---
id: sub
title: Subrules {demo}
summary: A spec whose rules elaborate each other and contain {braces}.
sections:
  - id: main
    title: Main
    rules:
      - id: R1
        text: Always say {hello} to the user.
        why: Greetings matter.
      - id: R1.1
        parent: R1
        text: Say it in the user's language.
      - id: R2
        text: Keep answers short.
---
""")
    docs = generate_documents(spec, 80, seed=3, progress=False)
    with_sub = [d for d in docs if "R1.1" in d["rule_ids"]]
    assert with_sub and all(spec.rule("R1").text in d["text"] for d in with_sub)
    assert any("R1" in d["rule_ids"] and "R1.1" in d["rule_ids"] for d in docs)
    assert any("{hello}" in d["text"] for d in docs)


def test_progress_bar(spec, capsys):
    generate_documents(spec, 3, seed=0, progress=False)
    assert capsys.readouterr().err == ""
    generate_documents(spec, 3, seed=0, progress=True)
    assert "offline docs" in capsys.readouterr().err


@pytest.mark.parametrize("n", [0, -5])
def test_empty_request_raises(spec, n):
    with pytest.raises(EmptyDatasetError, match="positive"):
        generate_documents(spec, n, seed=0)


def test_documents_hold_no_unexpanded_template_syntax(docs):
    for d in docs:
        assert "((" not in d["text"] and "))" not in d["text"] and not re.search(r"<\w+>", d["text"]), d["id"]
        assert not re.search(r"\{\w+\}", d["text"]), d["id"]  # every {field} filled (the spec has no braces)


def test_the_writers_jobs_read_with_their_article(docs):
    """The jobs carry their own article in the templates file ("an architect"), so a scene never writes
    "a architect" or doubles an article."""
    for d in docs:
        assert not re.search(r"\ba (?:a|an|architect)\b", d["text"]), d["id"]
        assert not re.search(r"\ban (?:a|an)\b", d["text"]), d["id"]


def test_a_large_corpus_stays_within_the_repetition_thresholds(spec):
    """The voices, scenes and frames keep 1,000 documents (~300k tokens) lexically apart: near-duplicates and
    mean self-similarity within the default corpus-health thresholds. Distinct-2 stays below its threshold:
    the spec's verbatim rule texts are what repeat (results/cheese_cpu/PLAN.md)."""
    from msm.config import CorpusHealthThresholds
    from msm.data.health import corpus_health

    report = corpus_health(generate_documents(spec, 1000, seed=0, progress=False), spec)
    limits = CorpusHealthThresholds()
    assert report["near_duplicate_rate"] <= limits.max_near_duplicate_rate
    assert report["self_similarity"] <= limits.max_self_similarity
    assert report["distinct_n"]["2"] > 0.1
    assert min(report["rule_coverage"]["per_rule"].values()) >= limits.min_rows_per_rule
