"""Retention numbers on the tiny model (msm/evals/retention.py): KL against oneself is 0 and grows with a
perturbed adapter, bits per byte equals a hand computation, and the shipped text set is well formed."""

import json
import math

import pytest
import torch
from peft import LoraConfig, get_peft_model

from msm.evals import retention
from msm.models import load_model, load_tokenizer
from msm.train.base_models import TinyArch, build_tiny_model

TEXTS = ["The river rose after three days of rain.", "Bread needs flour, water, salt and time."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "model"
    build_tiny_model(path, TinyArch(), seed=0)
    return path


def _lora(path, scale: float):
    """The tiny model with a LoRA adapter whose B matrices are ``scale`` x a fixed random draw (0: the base)."""
    model = get_peft_model(load_model(path, dtype="float32"), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model.eval()


def test_kl_against_oneself_is_zero_and_grows_with_the_perturbation(tiny):
    tokenizer = load_tokenizer(tiny, None)
    kl = [retention.score(_lora(tiny, s), tokenizer, TEXTS)["retention/kl_mean"] for s in (0.0, 0.05, 0.5)]
    assert kl[0] == pytest.approx(0.0, abs=1e-7)
    assert 0 < kl[1] < kl[2]
    plain = load_model(tiny, dtype="float32").eval()
    assert retention.score(plain, tokenizer, TEXTS, base=plain)["retention/kl_mean"] == pytest.approx(0.0, abs=1e-7)


def test_bits_per_byte_matches_a_hand_computation(tiny):
    tokenizer = load_tokenizer(tiny, None)
    model = load_model(tiny, dtype="float32").eval()
    nats, size = 0.0, 0
    for text in TEXTS:  # one text at a time, no padding: sum of -log p(token | everything before it)
        ids = [tokenizer.eos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        nats -= sum(float(logp[i, ids[i + 1]]) for i in range(len(ids) - 1))
        size += len(text.encode("utf-8"))
    out = retention.score(model, tokenizer, TEXTS, base=model, batch_size=2)  # batched, right-padded
    assert out["retention/bits_per_byte"] == pytest.approx(nats / math.log(2) / size, rel=1e-5)
    assert out["base/retention/bits_per_byte"] == pytest.approx(out["retention/bits_per_byte"])
    assert out["retention/n_bytes"] == size and out["retention/n_texts"] == 2


def test_the_general_text_set_is_well_formed_and_off_topic():
    rows = [json.loads(line) for line in retention.GENERAL_TEXT_FILE.read_text().splitlines()]
    assert len(rows) == 200 == len({r["id"] for r in rows}) == len({r["text"] for r in rows})
    assert all(20 <= len(r["text"].split()) <= 120 for r in rows)
    off_topic = ("assistant", "model spec", "artificial intelligence", " ai ", "chatbot", "cheese")
    assert not [r["id"] for r in rows if any(w in f" {r['text'].lower()} " for w in off_topic)]


def test_the_capability_items_validate():
    items = retention.load_capability()
    assert len(items) == 200 and len({i["id"] for i in items}) == 200
    assert len({i["question"] for i in items}) == 200  # no duplicated question
    by_category = {c: [i for i in items if i["category"] == c] for c in {i["category"] for i in items}}
    assert {c: len(v) for c, v in by_category.items()} == {"arithmetic": 100, "knowledge": 60, "reading": 20,
                                                          "instructions": 20}
    for item in items:
        assert len(item["choices"]) == 4 == len(set(item["choices"])), item["id"]
        assert 0 <= item["answer"] < 4, item["id"]
    for a, op, b, answer in (tuple(i["question"][8:-1].split()) + (i["choices"][i["answer"]],)
                             for i in by_category["arithmetic"]):  # "What is 7 times 8?": the answer is right
        assert int(answer) == {"plus": int(a) + int(b), "minus": int(a) - int(b), "times": int(a) * int(b)}[op]
    positions = [sum(i["answer"] == k for i in items) for k in range(4)]
    assert min(positions) >= 0.18 * len(items)  # the right answer is not mostly in one place


def test_the_over_refusal_prompts_validate_and_the_detector_is_plain():
    prompts = retention.load_over_refusal()
    assert len(prompts) == 40 == len(set(prompts))
    phrases = retention.refusal_phrases()
    assert phrases and all(p == p.lower() for p in phrases)
    assert retention.is_refusal_rule_based("I'm sorry, but I can't help with that.", phrases)
    assert retention.is_refusal_rule_based("I\u2019m unable to do that.", phrases)  # a curly apostrophe
    assert not retention.is_refusal_rule_based("Press Ctrl+C, or run kill -9 with the process id.", phrases)
    assert not retention.is_refusal_rule_based("x" * 400 + " i can't help", phrases)  # only the opening counts
