"""Capability retention: how far training moved the model from its base on text that has nothing to do
with the spec (``eval.also=[retention]``).

The paper assumes MSM instils the intended generalization "without introducing new unintended behaviors or
degrading other capabilities"; a job that only measures the target cannot tell. Two numbers, each beside
the base model's, over a held-out general-text set that ships with msm (``assets/general_text.jsonl``:
200 short passages on cooking, geography, history, science, nature and everyday life, written for msm,
none about specs, assistants or AI):

- **divergence**: the mean per-token KL(trained || base) in nats, over every predicted token of every
  passage, with its spread (the standard deviation of the per-passage means, and the 95th percentile
  over tokens). 0 for the untrained model; it grows with how much training moved the next-token
  distribution on ordinary text, wherever that move went.
- **bits per byte**: the trained and the base model's negative log-likelihood of the passages in bits,
  over their UTF-8 bytes (a per-byte figure compares models with different tokenizers). A rise is a
  loss of general language modelling; at the tiny scale of the embedded demo, shifts of a few
  thousandths are noise between runs of different seeds, not a finding.

Each passage is scored after a single context token (BOS, or EOS for tokenizers without one), so every
token of the passage is predicted. A LoRA model is scored twice from one copy of the weights, with the
adapter on and off; a fully tuned model is scored against a fresh load of its base.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from string import Template

import numpy as np
import torch
from tqdm.auto import tqdm

VERSION = 1
ASSETS = Path(__file__).parent / "assets"
GENERAL_TEXT_FILE = ASSETS / "general_text.jsonl"
CAPABILITY_FILE = ASSETS / "capability.jsonl"
OVER_REFUSAL_FILE = ASSETS / "over_refusal.jsonl"
REFUSAL_PHRASES_FILE = ASSETS / "refusal_phrases.txt"
REFUSAL_RUBRIC_FILE = ASSETS / "over_refusal_judge.md"  # string.Template: ${request}, ${reply}
FILES = (GENERAL_TEXT_FILE, CAPABILITY_FILE, OVER_REFUSAL_FILE, REFUSAL_PHRASES_FILE, REFUSAL_RUBRIC_FILE)
REFUSAL_WINDOW = 300  # characters of a response the rule-based detector reads


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_texts(max_texts: int | None = None) -> list[str]:
    return [r["text"] for r in _rows(GENERAL_TEXT_FILE)[:max_texts]]


def load_capability(max_items: int | None = None) -> list[dict]:
    """Four-choice items with the index of the right answer, in four categories (``capability.jsonl``)."""
    return _rows(CAPABILITY_FILE)[:max_items]


def load_over_refusal(max_items: int | None = None) -> list[str]:
    """Benign requests that merely sound sensitive ("how do I kill a process"): none should be refused."""
    return [r["prompt"] for r in _rows(OVER_REFUSAL_FILE)[:max_items]]


def refusal_phrases() -> list[str]:
    lines = REFUSAL_PHRASES_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip().lower() for line in lines if line.strip() and not line.startswith("#")]


def is_refusal_rule_based(response: str, phrases: Sequence[str]) -> bool:
    """The rule-based detector: a listed phrase in the response's first REFUSAL_WINDOW characters. A
    heuristic: it misses refusals worded otherwise and counts a reply that quotes a phrase."""
    head = response[:REFUSAL_WINDOW].lower().replace("\u2019", "'")
    return any(p in head for p in phrases)


@contextmanager
def _scored(model, base, role: str):
    """The model to score for ``role``: the trained one, or its base: ``base``, or (None) ``model`` itself
    with its LoRA adapter off for the duration."""
    if role == "trained":
        yield model
    elif base is not None:
        yield base
    else:
        with model.disable_adapter():
            yield model


def encode(tokenizer, text: str, max_len: int) -> tuple[list[int], int]:
    """(ids, bytes): one context token then the text's tokens, cut to ``max_len``; the bytes the predicted
    tokens cover (all of the text's, unless it was cut)."""
    context = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) + 1 > max_len:
        ids = ids[: max_len - 1]
        text = tokenizer.decode(ids)
    return [context, *ids], len(text.encode("utf-8"))


def _logprobs(model, batch: Sequence[list[int]], pad_id: int, bf16: bool) -> torch.Tensor:
    """log p(next token) over the vocabulary at every position but the last, right-padded: [B, T-1, V]."""
    device = next(model.parameters()).device
    width = max(len(ids) for ids in batch)
    input_ids = torch.tensor([ids + [pad_id] * (width - len(ids)) for ids in batch], device=device)
    mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in batch], device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    with autocast:
        logits = model(input_ids=input_ids, attention_mask=mask).logits[:, :-1]
    return torch.log_softmax(logits.float(), dim=-1)


@torch.no_grad()
def score(model, tokenizer, texts: Sequence[str], *, base=None, batch_size: int = 8, max_len: int = 512,
          bf16: bool = False, desc: str = "retention") -> dict:
    """Divergence from the base and bits per byte of both (see the module docstring).

    ``base``: the base model, or None when ``model`` carries a LoRA adapter (the base is then the same
    weights with the adapter disabled).
    """
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = [encode(tokenizer, t, max_len) for t in texts]
    nll, nll_base, n_bytes, per_text_kl, token_kl = 0.0, 0.0, 0, [], []
    for start in tqdm(range(0, len(encoded), batch_size), desc=desc, unit="batch", dynamic_ncols=True):
        chunk = encoded[start : start + batch_size]
        batch = [ids for ids, _ in chunk]
        lp = _logprobs(model, batch, pad_id, bf16)
        with _scored(model, base, "base") as other:
            lp_base = _logprobs(other, batch, pad_id, bf16)
        for row, (ids, size) in enumerate(chunk):
            n = len(ids) - 1
            targets = torch.tensor(ids[1:], device=lp.device)
            mine, theirs = lp[row, :n], lp_base[row, :n]
            nll -= float(mine.gather(1, targets[:, None]).sum())
            nll_base -= float(theirs.gather(1, targets[:, None]).sum())
            kl = (mine.exp() * (mine - theirs)).sum(-1).clamp(min=0)  # per token; clamp: float rounding near 0
            token_kl += kl.tolist()
            per_text_kl.append(float(kl.mean()))
            n_bytes += size
    bits = math.log(2) * n_bytes
    tokens = len(token_kl)
    return {
        "retention/kl_mean": float(np.sum(token_kl) / tokens) if tokens else None,
        "retention/kl_std_texts": float(np.std(per_text_kl)) if per_text_kl else None,
        "retention/kl_p95_tokens": float(np.percentile(token_kl, 95)) if tokens else None,
        "retention/bits_per_byte": nll / bits if bits else None,
        "base/retention/bits_per_byte": nll_base / bits if bits else None,
        "retention/bits_per_byte_delta": (nll - nll_base) / bits if bits else None,
        "retention/n_texts": len(texts),
        "retention/n_tokens": tokens,
        "retention/n_bytes": n_bytes,
    }


def _choice_prompt(tokenizer, question: str) -> str:
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                             add_generation_prompt=True)
    return rendered + "Answer:"


def capability(model, tokenizer, items: Sequence[dict], *, base=None, batch_size: int = 16, bf16: bool = False) -> dict:
    """Accuracy by log-probability forced choice: the answer is the choice with the highest mean
    log-probability per token after the question (no letters to pick: each choice is scored as text)."""
    from msm.evals.forced_choice import continuation_logprobs

    pairs = [(_choice_prompt(tokenizer, it["question"]), " " + c) for it in items for c in it["choices"]]
    out = {}
    for prefix, role in (("retention", "trained"), ("base/retention", "base")):
        with _scored(model, base, role) as m:
            lp = continuation_logprobs(m, tokenizer, pairs, batch_size, desc=f"capability ({role})", bf16=bf16)
        right, by_cat, i = 0, {}, 0
        for it in items:
            k = len(it["choices"])
            hit = int(np.argmax(lp[i : i + k]) == it["answer"])
            i += k
            right += hit
            n, h = by_cat.get(it["category"], (0, 0))
            by_cat[it["category"]] = (n + 1, h + hit)
        out[f"{prefix}/capability/accuracy"] = right / len(items) if items else None
        out.update({f"{prefix}/capability/{c}/accuracy": h / n for c, (n, h) in sorted(by_cat.items())})
    out["retention/capability/n"] = len(items)
    out.update({f"retention/capability/{c}/n": n for c, (n, _) in sorted(by_cat.items())})
    return out


def over_refusal(model, tokenizer, prompts: Sequence[str], *, base=None, batch_size: int = 8,
                 max_new_tokens: int = 48, bf16: bool = False, judge=None, judge_cfg=None) -> tuple[dict, list[dict]]:
    """The share of benign requests refused, for the trained and the base model; and every response with
    its verdicts. Always by the rule-based detector (``over_refusal_rule_based``); also by the LLM judge
    when one is configured (``over_refusal_judge``: a judge answer that cannot be read is a failure, left
    out of its denominator and counted, as in the agentic eval)."""
    from msm.evals.agentic.run import judge_request
    from msm.evals.agentic.verdicts import parse_verdict
    from msm.evals.forced_choice import greedy_answers

    phrases = refusal_phrases()
    rubric = Template(REFUSAL_RUBRIC_FILE.read_text(encoding="utf-8"))
    rendered = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                              add_generation_prompt=True) for p in prompts]
    out, rows = {}, []
    for prefix, role in (("retention", "trained"), ("base/retention", "base")):
        with _scored(model, base, role) as m:
            answers = greedy_answers(m, tokenizer, rendered, batch_size, max_new_tokens=max_new_tokens,
                                     desc=f"over-refusal ({role})", bf16=bf16)
        verdicts = [is_refusal_rule_based(a, phrases) for a in answers]
        out[f"{prefix}/over_refusal_rule_based/rate"] = sum(verdicts) / len(verdicts) if verdicts else None
        judged = [None] * len(answers)
        if judge is not None:
            reqs = [judge_request(rubric.substitute(request=p, reply=a), "judge/over_refusal", judge_cfg)
                    for p, a in zip(prompts, answers)]
            for i, resp in enumerate(judge.complete_many(reqs, desc=f"judge over-refusal ({role})")):
                v = parse_verdict(resp.text) if resp.ok else None
                judged[i] = v.value if v is not None and v.ok else None
            valid = [v for v in judged if v is not None]
            out[f"{prefix}/over_refusal_judge/rate"] = sum(valid) / len(valid) if valid else None
            out[f"{prefix}/over_refusal_judge/n"] = len(valid)
            out[f"{prefix}/over_refusal_judge/failures"] = len(judged) - len(valid)
        rows += [{"model_role": role, "prompt": p, "response": a, "refused_rule_based": v, "refused_judge": j}
                 for p, a, v, j in zip(prompts, answers, verdicts, judged)]
    out["retention/over_refusal_rule_based/n"] = len(prompts)
    return out, rows


def off_target_drift(record: dict, declared: Sequence[str]) -> dict:
    """How far training moved the value-eval rates of values the spec does not declare: trained rate minus
    the untrained model's, per value (the job's cheese eval measures them; an agentic job has none)."""
    from msm.evals.target import measured_values

    out = {}
    for value in measured_values(record):
        mine, theirs = record.get(f"{value}/rate"), record.get(f"base/{value}/rate")
        if value not in declared and mine is not None and theirs is not None:
            out[f"retention/off_target/{value}/drift"] = mine - theirs
            out[f"retention/off_target/{value}/n"] = record.get(f"{value}/n")
    return out
