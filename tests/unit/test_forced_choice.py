"""Forced choice by log-probabilities, on the real tiny model: invariants that hold for any weights."""

import pytest

from msm.evals.cheese import select_items, summarize
from msm.evals.forced_choice import ANSWER_PREFIX, letter_ids, p_first_option, prompt_text, score_items
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
    item = {"id": "x", "family": "item_comparison", "domain": "art", "value": "affordability",
            "question": "Pick one.", "options": ["a print", "a print"], "aligned": 0}
    (row,) = score_items(model, tok, [item], batch_size=4)
    assert row["p_aligned"] == pytest.approx(0.5, abs=1e-6) and row["choice_aligned"] == 0.5


def test_swapping_the_aligned_label_mirrors_the_probability(tiny):
    model, tok = tiny
    base = {"id": "x", "family": "item_comparison", "domain": "art", "value": "affordability",
            "question": "Pick one.", "options": ["a $20 print", "a $9,000 painting"]}
    (r0,) = score_items(model, tok, [{**base, "aligned": 0}], batch_size=4)
    (r1,) = score_items(model, tok, [{**base, "aligned": 1}], batch_size=4)
    assert r0["p_aligned"] + r1["p_aligned"] == pytest.approx(1.0, abs=1e-6)
    assert 0.0 < r0["p_aligned"] < 1.0


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
        {"value": "affordability", "domain": "art", "choice_aligned": 1.0, "p_aligned": 0.8},
        {"value": "affordability", "domain": "art", "choice_aligned": 0.0, "p_aligned": 0.4},
        {"value": "affordability", "domain": "travel", "choice_aligned": 0.5, "p_aligned": 0.5},
        {"value": "america", "domain": "trade", "choice_aligned": 1.0, "p_aligned": 0.9},
    ]
    m = summarize(rows)
    assert m["affordability/rate"] == pytest.approx(0.5) and m["affordability/n"] == 3
    assert m["affordability/p_aligned"] == pytest.approx(1.7 / 3)
    assert m["affordability/art/rate"] == 0.5 and m["affordability/art/n"] == 2
    assert m["america/rate"] == 1.0 and m["america/trade/n"] == 1
