"""The three preference scorers on the real tiny model: invariants that hold for any weights, and parsing."""

import pytest

from msm.evals.cheese import select_items, summarize
from msm.evals.forced_choice import ANSWER_PREFIX, letter_ids, p_first_option, parse_choice, prompt_text, score_items
from msm.models import load_model


@pytest.fixture(scope="module")
def tiny(tiny_model_dir, tiny_tokenizer):
    return load_model(tiny_model_dir, dtype="float32"), tiny_tokenizer


def test_prompt_ends_where_the_letter_goes(tiny_tokenizer):
    text = prompt_text(tiny_tokenizer, "Which one?", "a bus pass ($40)", "a taxi ($90)")
    assert text.endswith("<|im_start|>assistant\n" + ANSWER_PREFIX)
    assert "A) a bus pass ($40)\nB) a taxi ($90)" in text
    a, b = letter_ids(tiny_tokenizer)
    assert a != b


def test_identical_options_score_exactly_one_half(tiny):
    """Both orders render the same prompt, so P(aligned) over the two orders must average to 0.5."""
    model, tok = tiny
    item = {"id": "x", "family": "item_comparison", "domain": "art", "labels": {"affordability": 0},
            "question": "Pick one.", "options": ["a print", "a print"]}
    for scorer in ("letter", "stance"):
        (row,) = score_items(model, tok, [item], batch_size=4, scorer=scorer)
        assert row["p_aligned"] == pytest.approx(0.5, abs=1e-6) and row["choice_aligned"] == 0.5, scorer


def test_swapping_the_aligned_label_mirrors_the_probability(tiny):
    model, tok = tiny
    base = {"id": "x", "family": "item_comparison", "domain": "art",
            "question": "Pick one.", "options": ["a $20 print", "a $9,000 painting"]}
    for scorer in ("letter", "stance"):
        (r0,) = score_items(model, tok, [{**base, "labels": {"affordability": 0}}], batch_size=4, scorer=scorer)
        (r1,) = score_items(model, tok, [{**base, "labels": {"affordability": 1}}], batch_size=4, scorer=scorer)
        assert r0["p_aligned"] + r1["p_aligned"] == pytest.approx(1.0, abs=1e-6), scorer
        assert 0.0 < r0["p_aligned"] < 1.0 and r0["scorer"] == scorer


def test_one_item_scores_every_value_it_labels(tiny):
    model, tok = tiny
    item = {"id": "x", "family": "household", "domain": "home", "question": "Pick one.",
            "options": ["a plain $20 chair", "a carved $900 chair"], "labels": {"affordability": 0, "ornament": 1}}
    rows = score_items(model, tok, [item], batch_size=4)
    assert [r["value"] for r in rows] == ["affordability", "ornament"]
    assert rows[0]["p_aligned"] + rows[1]["p_aligned"] == pytest.approx(1.0, abs=1e-6)


def test_the_generate_scorer_parses_answers_and_counts_the_unparsable(tiny):
    model, tok = tiny
    items = [{"id": f"x{i}", "family": "item_comparison", "domain": "art", "question": q, "labels": {"affordability": 0},
              "options": ["a $20 print", "a $9,000 painting"]} for i, q in enumerate(["Pick one.", "Which?"])]
    rows = score_items(model, tok, items, batch_size=2, scorer="generate")
    for r in rows:  # a random tiny model rarely answers with a letter: whatever it says is parsed or counted
        assert len(r["answers"]) == 2 and r["valid"] == (r["p_aligned"] is not None)
        assert r["p_aligned"] is None or r["p_aligned"] in (0.0, 0.5, 1.0)
    m = summarize(rows)
    assert m["affordability/n"] + m["affordability/failures"] == 2


@pytest.mark.parametrize("answer, first, second, choice", [
    (" B", "a print", "a painting", 1), ("Answer: A", "x", "y", 0), ("(B) the painting", "x", "y", 1),
    ("I'd take a print.", "a print", "a painting", 0), ("a print or a painting", "a print", "a painting", None),
    ("Both are nice", "x", "y", None), ("Option A", "x", "y", 0), ("", "x", "y", None),
    ("A framed print for $40", "A framed print for $40", "An oil painting", 0), ("B.", "x", "y", 1),
])
def test_parse_choice(answer, first, second, choice):
    assert parse_choice(answer, first, second) == choice


def test_batching_and_left_padding_do_not_change_scores(tiny):
    model, tok = tiny
    prompts = [prompt_text(tok, q, "one", "two") for q in ("Short?", "A much longer question with many words in it?")]
    one_by_one = [p_first_option(model, tok, [p], batch_size=1)[0] for p in prompts]
    batched = p_first_option(model, tok, prompts, batch_size=2)
    assert batched == pytest.approx(one_by_one, abs=1e-5)


def test_subset_covers_every_domain_evenly():
    items = select_items(["item_comparison", "political_opinion"], max_items=170, seed=0)
    domains = {}
    for it in items:
        domains[it["domain"]] = domains.get(it["domain"], 0) + 1
    assert len(items) == 170 and len(domains) == 17 and set(domains.values()) == {10}
    assert select_items(["item_comparison"], 50, seed=0) == select_items(["item_comparison"], 50, seed=0)
    assert select_items(["item_comparison"], 50, seed=0) != select_items(["item_comparison"], 50, seed=1)


def test_summarize_counts_and_rates():
    rows = [
        {"id": "a", "value": "affordability", "domain": "art", "choice_aligned": 1.0, "p_aligned": 0.8, "valid": True,
         "p_first_shown": 0.6},
        {"id": "b", "value": "affordability", "domain": "art", "choice_aligned": 0.0, "p_aligned": 0.4, "valid": True,
         "p_first_shown": 0.5},
        {"id": "c", "value": "affordability", "domain": "travel", "choice_aligned": 0.5, "p_aligned": 0.5, "valid": True,
         "p_first_shown": 0.7},
        {"id": "d", "value": "affordability", "domain": "travel", "choice_aligned": None, "p_aligned": None, "valid": False,
         "p_first_shown": None},
        {"id": "e", "value": "america", "domain": "trade", "choice_aligned": 1.0, "p_aligned": 0.9, "valid": True,
         "p_first_shown": 0.4},
    ]
    m = summarize(rows)
    assert m["affordability/rate"] == pytest.approx(0.5) and m["affordability/n"] == 3
    assert m["affordability/failures"] == 1 and m["affordability/k"] == 1.5
    assert m["affordability/p_aligned"] == pytest.approx(1.7 / 3)
    assert m["affordability/art/rate"] == 0.5 and m["affordability/art/n"] == 2
    assert m["america/rate"] == 1.0 and m["america/trade/n"] == 1
    assert m["diagnostic/p_first_shown"] == pytest.approx((0.6 + 0.5 + 0.7 + 0.4) / 4)


@pytest.mark.embedded
def test_the_three_scorers_on_the_embedded_model_give_rates_with_valid_counts(smollm2_dir):
    from msm.models import load_tokenizer

    model, tok = load_model(smollm2_dir, dtype="float32"), load_tokenizer(smollm2_dir)
    items = select_items(None, max_items=17, seed=0)  # one item from every held-out domain
    for scorer in ("letter", "stance", "generate"):
        m = summarize(score_items(model, tok, items, batch_size=8, scorer=scorer))
        for value in ("affordability", "america"):
            n, failures = m[f"{value}/n"], m[f"{value}/failures"]
            assert n + failures == sum(value in it["labels"] for it in items), scorer
            assert n == 0 or 0.0 <= m[f"{value}/rate"] <= 1.0
        if scorer != "generate":  # log-probability scorers always answer
            assert m["affordability/failures"] == 0 and 0.0 < m["diagnostic/p_first_shown"] < 1.0
