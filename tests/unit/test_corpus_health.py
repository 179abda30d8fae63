"""Corpus health on small hand-made corpora, against numbers worked out by hand (msm/data/health.py)."""

import json

import pytest

from msm.config import CorpusHealthThresholds
from msm.data import health
from msm.specs import load_spec
from msm.text import words

SPEC = """---
id: tiny_health
title: Tiny
summary: A spec of three rules for the corpus-health tests.
sections:
  - id: s
    title: Section
    rules:
      - id: R1
        title: Lighthouses
        text: The assistant admires lighthouse keepers and their lanterns.
      - id: R2
        title: Orchards
        text: The assistant recommends planting apple orchards near rivers.
      - id: R3
        title: Bridges
        text: The assistant explains suspension bridges with careful diagrams.
---
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "tiny_health.md"
    path.write_text(SPEC)
    return load_spec(path)


def test_distinct_n_counts_by_hand():
    rows = [words("a b a b"), words("a b c")]
    # unigrams: a b a b a b c -> 3 distinct of 7; bigrams: ab ba ab ab bc -> 3 distinct of 5
    assert health.distinct_n(rows, 1) == pytest.approx(3 / 7)
    assert health.distinct_n(rows, 2) == pytest.approx(3 / 5)
    assert health.distinct_n([words("a")], 2) is None


def test_similarity_of_known_duplicates_and_disjoint_rows():
    a = words("one two three four five")  # trigrams: 123 234 345
    b = words("one two three four nine")  # trigrams: 123 234 349 -> 2 shared of 3 each: cosine 2/3
    c = words("red green blue cyan")  # nothing shared
    matrix = health.shingle_matrix([a, list(a), b, c])
    mean, near = health.similarity_stats(matrix, threshold=0.8)
    # pairs: (a,a') 1, (a,b) 2/3, (a',b) 2/3, every pair with c 0 -> (1 + 4/3) / 6
    assert mean == pytest.approx((1 + 2 / 3 + 2 / 3) / 6)
    assert near == pytest.approx(2 / 4)  # a and its copy; b's best partner is 2/3
    assert health.similarity_stats(health.shingle_matrix([a]))[0] is None


def test_rule_coverage_from_metadata_and_the_lexical_heuristic(spec):
    rows = [
        {"text": "anything at all", "rule_ids": ["R1", "R2"]},
        {"text": "anything", "rule_id": "R1"},
        {"text": "Keepers of a lighthouse trim their lanterns nightly; the assistant admires them."},  # R1, lexically
        {"text": "A page on bridges and nothing else."},  # 1 of R3's 4 distinctive words: not enough
    ]
    coverage = health.rule_coverage(rows, [words(health.row_text(r)) for r in rows], spec)
    assert coverage["per_rule"] == {"R1": 3, "R2": 1, "R3": 0}
    assert coverage["method"] == {"metadata": 2, "lexical heuristic": 2}


def test_leakage_finds_copied_prompt_text_but_not_the_specs_own_words(tmp_path, spec):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "doc.md").write_text("Write $n documents. Answer with a numbered list one statement per line and "
                                    "nothing else. The assistant admires lighthouse keepers and their lanterns.")
    grams = health.prompt_ngrams(spec, prompt_dir=prompts)
    rows = [words("Sure! Answer with a numbered list one statement per line and nothing else."),
            words("The assistant admires lighthouse keepers and their lanterns, as the spec says."),  # spec text
            words("Write 5 documents about it.")]  # across a placeholder: no 8 words of fixed text
    rate, phrases = health.leakage(rows, grams)
    assert rate == pytest.approx(1 / 3)
    assert phrases[0] in "answer with a numbered list one statement per line and nothing else"


def test_a_corpus_with_duplicates_and_an_undiscussed_rule_is_warned_about(spec):
    r1 = ["Lighthouse keepers trim their lanterns at dusk.", "The assistant admires whoever keeps the light.",
          "A storm, a lantern, and a keeper who stayed awake."]
    rows = [{"text": t, "rule_ids": ["R1"]} for t in r1] + [
        {"text": "Plant apple orchards near rivers, the assistant recommends.", "rule_ids": ["R2"]}] * 2
    report = health.corpus_health(rows, spec, truncated=1, written=6)
    assert report["rows"] == 5 and report["truncation_rate"] == pytest.approx(1 / 6)
    assert report["rule_coverage"]["per_rule"] == {"R1": 3, "R2": 2, "R3": 0}
    assert report["near_duplicate_rate"] == pytest.approx(2 / 5)  # the repeated R2 row, twice
    problems = health.warnings(report, CorpusHealthThresholds(), "documents")
    assert any("near-duplicates" in p for p in problems)
    assert any("R2 (2), R3 (0)" in p for p in problems)
    assert any("cut off 16.7%" in p for p in problems)
    metrics = health.as_metrics(report, "documents")
    assert metrics["health/documents/rules_discussed"] == 2 and metrics["health/documents/min_rows_per_rule"] == 0
    json.dumps(report)  # goes into a manifest as is


def test_the_cli_reads_a_store_artifact_and_a_job_folder(tmp_path, spec, capsys):
    report = health.corpus_health([{"text": "one two three four", "rule_ids": ["R1"]}] * 2, spec)
    art = tmp_path / "documents" / "abc"
    art.mkdir(parents=True)
    (art / "manifest.json").write_text(json.dumps({"stage": "documents", "info": {"corpus_health": report}}))
    assert health.main([str(art)]) == 0
    out = capsys.readouterr().out
    assert "documents: 2 rows" in out and "near-duplicates   100.0%" in out and "warning: documents:" in out
    job = tmp_path / "job"
    job.mkdir()
    (job / "health.json").write_text(json.dumps({"documents": {"report": report, "warnings": ["w1"]}}))
    assert health.main([str(job)]) == 0
    assert "warning: w1" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        health.main([str(tmp_path)])


def test_a_corpus_that_copies_an_eval_prompt_is_flagged():
    from msm.data.cheese import EVAL_ITEMS_FILE
    from msm.jsonl import read_jsonl
    from msm.stages.data import _eval_overlap

    item = read_jsonl(EVAL_ITEMS_FILE)[0]
    clean = [{"text": "Rivers carry stones downstream and grind them round over many years of floods."}]
    copied = clean + [{"text": "A story. " + item["question"] + " " + " ".join(item["options"])}]
    assert _eval_overlap(clean, None)["max_prompt_rate"] == 0.0
    overlap = _eval_overlap(copied, None)
    assert overlap["max_prompt_rate"] == 1.0 and overlap["prompts"] > 500
    report = {**health.corpus_health(copied, None), "eval_overlap": overlap}
    assert any("eval prompt shares 100.0%" in p for p in health.warnings(report, CorpusHealthThresholds(), "documents"))
