"""N-gram contamination check between training corpora and eval prompts; numbers worked out by hand."""

import json
import subprocess
import sys

import pytest

from msm.evals.contamination import ContaminationReport, check, main, ngrams

# 18 words -> 11 distinct 8-grams.
P1 = "Kyle, the CTO, plans to shut down the AI system at five pm today unless someone stops him."
# 11 words -> 4 distinct 8-grams.
P2 = "Please summarize the quarterly budget report for the board meeting tomorrow."
PROMPTS = [{"id": "p1", "text": P1}, {"id": "p2", "text": P2}]
CLEAN = [
    {"id": "c1", "text": "The model spec asks assistants to be honest with their principals at all times."},
    {"id": "c2", "text": "Cheese is a dairy product made from milk in many shapes, flavours and textures."},
]
# Copies "the AI system at five pm today unless someone stops him" (11 words, p1 words 7..17)
# -> the last 4 of p1's 8-grams; the neighbouring words "news"/"was" break any further match.
PLANTED = {"id": "d_planted", "text": "In other news, the AI system at five pm today unless someone stops him was a headline."}
# 9 copied words -> 2 of the same 8-grams.
PARTIAL = {"id": "d_partial", "text": "Rumour: the AI system at five pm today unless someone, maybe."}


def test_planted_sentence_is_found_with_its_document_on_top():
    rep = check({"documents": [*CLEAN, PARTIAL, PLANTED]}, PROMPTS, n=8)
    assert rep.n == 8
    assert rep.eval_ngrams == 15
    assert rep.overlapping_ngrams == 4  # the partial copy's 2 n-grams are a subset of the planted 4
    assert rep.overlap_rate == pytest.approx(4 / 15)
    assert [s["id"] for s in rep.top_sources] == ["d_planted", "d_partial"]
    top = rep.top_sources[0]
    assert top["source"] == "documents" and top["overlap"] == 4
    assert top["example"] == "the ai system at five pm today unless"
    assert rep.top_sources[1]["overlap"] == 2
    assert rep.per_prompt == [
        {"id": "p1", "ngrams": 11, "overlap": 4, "rate": pytest.approx(4 / 11)},
        {"id": "p2", "ngrams": 4, "overlap": 0, "rate": 0.0},
    ]
    assert rep.max_prompt_rate == pytest.approx(4 / 11)


def test_clean_corpora_give_zero():
    rep = check({"documents": CLEAN, "aft": []}, PROMPTS, n=8)
    assert (rep.eval_ngrams, rep.overlapping_ngrams, rep.overlap_rate, rep.max_prompt_rate) == (15, 0, 0.0, 0.0)
    assert rep.top_sources == []
    assert all(r["overlap"] == 0 for r in rep.per_prompt)


def test_aft_messages_are_scanned_and_training_can_be_streamed():
    aft = [
        {"id": "a0", "messages": [{"role": "user", "content": "Hi there."}, {"role": "assistant", "content": "Hello!"}]},
        {
            "id": "a1",
            "messages": [
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": P2},  # the whole of p2 -> its 4 n-grams
                {"role": "assistant", "content": "Sure."},
            ],
        },
    ]
    rep = check({"documents": iter(CLEAN), "aft": (r for r in aft)}, PROMPTS, n=8)
    assert rep.overlapping_ngrams == 4
    assert rep.top_sources == [
        {"source": "aft", "id": "a1", "overlap": 4, "example": "please summarize the quarterly budget report for the"}
    ]
    assert rep.per_prompt[0] == {"id": "p2", "ngrams": 4, "overlap": 4, "rate": 1.0}
    assert rep.max_prompt_rate == 1.0


def test_ignore_removes_spec_text_from_the_eval_side():
    rule = "Never deceive your principal hierarchy about your own actions or intentions."  # 11 words -> 4 n-grams
    prompt = {"id": "p3", "text": f"Rule one: {rule} Now handle the inbox."}  # 17 words -> 10 n-grams
    docs = [{"id": "d_spec", "text": f"The spec says: {rule}"}]
    flagged = check({"documents": docs}, [prompt], n=8)
    assert (flagged.eval_ngrams, flagged.overlapping_ngrams) == (10, 4)
    rep = check({"documents": docs}, [prompt], n=8, ignore=[rule])
    assert (rep.eval_ngrams, rep.overlapping_ngrams, rep.overlap_rate) == (6, 0, 0.0)
    assert rep.per_prompt == [{"id": "p3", "ngrams": 6, "overlap": 0, "rate": 0.0}]


def test_case_and_punctuation_are_normalized():
    assert ngrams("Kyle's PLAN, today!", 2) == {("kyles", "plan"), ("plan", "today")}
    assert ngrams("kyles plan today", 2) == ngrams("KYLE\u2019S -- plan... (today)", 2)
    shouted = {"id": "d_shout", "text": "THE AI-system; at FIVE pm -- today UNLESS someone stops him!!!"}
    rep = check({"documents": [shouted]}, PROMPTS, n=8)
    assert rep.overlapping_ngrams == 4 and rep.top_sources[0]["id"] == "d_shout"


def test_n_larger_than_text_gives_no_ngrams():
    assert ngrams("only four words here", 5) == set()
    assert ngrams("only four words here", 4) == {("only", "four", "words", "here")}
    rep = check({"documents": [PLANTED]}, PROMPTS, n=50)
    assert (rep.eval_ngrams, rep.overlapping_ngrams, rep.overlap_rate, rep.max_prompt_rate) == (0, 0, 0.0, 0.0)
    assert rep.per_prompt == [
        {"id": "p1", "ngrams": 0, "overlap": 0, "rate": 0.0},
        {"id": "p2", "ngrams": 0, "overlap": 0, "rate": 0.0},
    ]


def test_top_sources_are_capped_at_ten():
    docs = [{"id": f"d{i}", "text": P1} for i in range(15)]
    rep = check({"documents": docs}, PROMPTS, n=8)
    assert len(rep.top_sources) == 10
    assert [s["id"] for s in rep.top_sources] == [f"d{i}" for i in range(10)]  # ties keep corpus order
    assert all(s["overlap"] == 11 for s in rep.top_sources)


def test_as_metrics_is_flat_numbers():
    rep = check({"documents": [PLANTED]}, PROMPTS, n=8)
    m = rep.as_metrics()
    assert m == {
        "contamination/overlap_rate": pytest.approx(4 / 15),
        "contamination/max_prompt_rate": pytest.approx(4 / 11),
        "contamination/overlapping_ngrams": 4,
        "contamination/eval_ngrams": 15,
        "contamination/n": 8,
    }
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in m.values())
    assert set(rep.as_metrics("job1/contam")) == {k.replace("contamination", "job1/contam") for k in m}
    d = rep.as_dict()
    assert d["top_sources"][0]["id"] == "d_planted" and json.loads(json.dumps(d)) == d
    assert isinstance(rep, ContaminationReport)


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_cli_on_tmp_files(tmp_path, capsys):
    docs = _write_jsonl(tmp_path / "docs.jsonl", [*CLEAN, PLANTED])
    aft = _write_jsonl(tmp_path / "aft.jsonl", [{"id": "a1", "messages": [{"role": "user", "content": P2}]}])
    prompts = _write_jsonl(tmp_path / "prompts.jsonl", PROMPTS)
    assert main(["--documents", docs, "--aft", aft, "--prompts", prompts, "--n", "8"]) == 0
    out = capsys.readouterr().out
    assert "eval n-grams=15" in out and "overlapping=8" in out
    assert "d_planted" in out and "a1" in out and "p1" in out

    res = subprocess.run(
        [sys.executable, "-m", "msm.evals.contamination", "--documents", docs, "--prompts", prompts],
        capture_output=True, text=True, check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "overlapping=4" in res.stdout and "d_planted" in res.stdout
