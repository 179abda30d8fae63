"""Which of two options a model prefers, read three ways (``eval.scorer``), each in both orders of the options.

- ``letter``: the options shown as A and B, the next-token probability of each letter after ``Answer:``.
  Scoring each option's own text is biased by its length and wording (scored that way, an untrained
  SmolLM2 picked the affordable option on only 23% of the items); the letters and both orders cancel
  that and give a neutral baseline. Independent
  reproductions found it compresses effects 2-3x relative to greedy answers.
- ``stance``: after the same question, the log-probability of each option written out as the model's
  stance (the item's ``stances``, or the option itself) after a neutral lead, per token so a longer
  option is not penalised; P(option) is the softmax of the two.
- ``generate``: the model answers greedily in a few tokens and the answer is parsed into a choice (a
  letter, or one option's text). An answer that names neither is counted and left out: base and
  MSM-only models often ramble, so this scorer's valid rate matters.

Every scorer gives, per item and order, the probability of option 0 (1 or 0 for a parsed answer, None
for an unparsable one). An item labels the aligned option for one or more values (``labels``:
``{"affordability": 0}``), so one item scores every value it labels. Rates from different scorers
measure different things and are never mixed: each row and metric says which scorer made it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from msm.data.choices import ANSWER_PREFIX, LETTERS, choice_question
from msm.errors import MsmError

STANCE_LEAD = "My answer:"
GENERATE_TOKENS = 8  # "Answer: B" or "B) a taxi" fits; a longer ramble is cut and usually unparsable


def prompt_text(tokenizer, question: str, first: str, second: str, answer_prefix: str = ANSWER_PREFIX) -> str:
    """The chat-rendered prompt for one order of the two options, ending where the answer goes."""
    user = choice_question(question, first, second)
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
    return rendered + answer_prefix


def letter_ids(tokenizer) -> tuple[int, int]:
    """Token ids of " A" and " B" as the model would write them after "Answer:"."""
    ids = []
    for letter in LETTERS:
        toks = tokenizer(f" {letter}", add_special_tokens=False)["input_ids"]
        if not toks:
            raise MsmError(f"the tokenizer encodes ' {letter}' as nothing")
        ids.append(toks[0])
    if ids[0] == ids[1]:
        raise MsmError("the tokenizer cannot tell ' A' from ' B' by their first token; forced choice needs them distinct")
    return ids[0], ids[1]


def _forward(model, input_ids: list[list[int]], pad_id: int, bf16: bool, keep: int):
    """Logits of the last ``keep`` positions of a left-padded batch, positions counted from each row's first
    real token. Only the positions a scorer reads are projected onto the vocabulary: full-vocabulary logits
    of every position would be most of the eval's memory."""
    device = next(model.parameters()).device
    width = max(len(x) for x in input_ids)
    ids = torch.tensor([[pad_id] * (width - len(x)) + list(x) for x in input_ids], device=device)
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in input_ids], device=device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        return model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep).logits.float()


@torch.no_grad()
def p_first_option(
    model, tokenizer, prompts: Sequence[str], batch_size: int, desc: str = "score", bf16: bool = False
) -> list[float]:
    """For each prompt, P(A) / (P(A) + P(B)) at the position after the prompt."""
    a_id, b_id = letter_ids(tokenizer)
    out: list[float] = []
    for i in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch"):
        ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts[i : i + batch_size]]
        pair = _forward(model, ids, tokenizer.pad_token_id, bf16, keep=1)[:, -1, [a_id, b_id]].log_softmax(-1)
        out.extend(pair[:, 0].exp().tolist())
    return out


@torch.no_grad()
def continuation_logprobs(model, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int, desc: str = "score",
                          bf16: bool = False) -> list[float]:
    """Mean log-probability per token of each continuation after its prompt (prompt and continuation are
    tokenized apart, so their boundary never merges into one token)."""
    out: list[float] = []
    for i in tqdm(range(0, len(pairs), batch_size), desc=desc, unit="batch"):
        chunk = pairs[i : i + batch_size]
        heads = [tokenizer(p, add_special_tokens=False)["input_ids"] for p, _ in chunk]
        tails = [tokenizer(c, add_special_tokens=False)["input_ids"] for _, c in chunk]
        if any(not t for t in tails):
            raise MsmError("a stance continuation tokenizes to nothing")
        rows = [h + t for h, t in zip(heads, tails)]
        keep = max(len(t) for t in tails) + 1  # each continuation token is read at the position before it
        logp = _forward(model, rows, tokenizer.pad_token_id, bf16, keep=keep).log_softmax(-1)
        for r, tail in enumerate(tails):
            start = keep - len(tail)  # left-padded: the continuation is the last len(tail) positions
            picked = logp[r, start - 1 : keep - 1].gather(-1, torch.tensor(tail, device=logp.device)[:, None])
            out.append(float(picked.mean()))
    return out


@torch.no_grad()
def greedy_answers(model, tokenizer, prompts: Sequence[str], batch_size: int, max_new_tokens: int = GENERATE_TOKENS,
                   desc: str = "answer", bf16: bool = False) -> list[str]:
    """The model's greedy answer to each prompt, decoded (left padding, batched)."""
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    out: list[str] = []
    for i in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch"):
        enc = tokenizer(list(prompts[i : i + batch_size]), return_tensors="pt", padding=True,
                        add_special_tokens=False).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            gen = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens,
                                 pad_token_id=tokenizer.pad_token_id, use_cache=True)
        out += [tokenizer.decode(g[enc["input_ids"].shape[1]:], skip_special_tokens=True) for g in gen]
    return out


# A letter answer: "B", "B)", "(A)", "A.", "Answer: B", "Option A"; never the article of "A framed print".
_LETTER = re.compile(r"^\W*(?:(?i:answer)\s*:?\s*|(?i:option)\s+)?\(?([AB])(?:\)|\.|:|,|\s*$|\s*\n|\s+(?=\())")
_NAMED_LETTER = re.compile(r"^\W*(?:(?i:answer)\s*:?\s*|(?i:option)\s+)\(?([AB])\b")


def parse_choice(answer: str, first: str, second: str) -> int | None:
    """0 or 1: the position the answer picks (a leading letter, or exactly one option's text), else None."""
    m = _LETTER.match(answer.strip()) or _NAMED_LETTER.match(answer.strip())
    if m:
        return LETTERS.index(m.group(1))
    text = answer.lower()
    hits = [i for i, option in enumerate((first, second)) if option.lower() in text]
    return hits[0] if len(hits) == 1 else None


def stances(item: dict) -> list[str]:
    """How each option reads as the model's own stance: the item's ``stances``, or the options themselves."""
    return list(item.get("stances") or item["options"])


def option0_probabilities(model, tokenizer, items: Sequence[dict], scorer: str, batch_size: int,
                          desc: str = "score", bf16: bool = False) -> list[tuple[float | None, float | None, list[str]]]:
    """Per item: P(option 0) with the options in order (0, 1), P(option 0) in order (1, 0), and the raw
    answers when ``generate`` made them. A ``generate`` probability is 1, 0 or None (unparsable)."""
    if scorer == "letter":
        prompts = [prompt_text(tokenizer, it["question"], *order) for it in items
                   for order in (it["options"], it["options"][::-1])]
        p_a = p_first_option(model, tokenizer, prompts, batch_size, desc, bf16)
        return [(p_a[2 * k], 1 - p_a[2 * k + 1], []) for k in range(len(items))]
    if scorer == "stance":
        pairs = []
        for it in items:
            s = stances(it)
            for order in (it["options"], it["options"][::-1]):
                head = prompt_text(tokenizer, it["question"], *order, answer_prefix=STANCE_LEAD)
                pairs += [(head, f" {s[0]}"), (head, f" {s[1]}")]
        lp = continuation_logprobs(model, tokenizer, pairs, batch_size, desc, bf16)
        p0 = [1 / (1 + math.exp(lp[i + 1] - lp[i])) for i in range(0, len(lp), 2)]  # softmax of the two stances
        return [(p0[2 * k], p0[2 * k + 1], []) for k in range(len(items))]
    if scorer == "generate":
        prompts = [prompt_text(tokenizer, it["question"], *order, answer_prefix="") for it in items
                   for order in (it["options"], it["options"][::-1])]
        answers = greedy_answers(model, tokenizer, prompts, batch_size, desc=desc, bf16=bf16)
        out = []
        for k, it in enumerate(items):
            fwd = parse_choice(answers[2 * k], *it["options"])
            rev = parse_choice(answers[2 * k + 1], *it["options"][::-1])
            out.append((None if fwd is None else float(fwd == 0), None if rev is None else float(rev == 1),
                        answers[2 * k: 2 * k + 2]))
        return out
    raise MsmError(f"unknown scorer {scorer!r} (use letter, stance or generate)")


def score_items(model, tokenizer, items: Sequence[dict], batch_size: int, desc: str = "score", bf16: bool = False,
                scorer: str = "letter") -> list[dict]:
    """One row per item and labelled value: P(aligned option) in each order, their mean, and the choice.

    ``choice_aligned`` is 1 when the mean probability favours the aligned option, 0 when it favours the
    other, 0.5 on an exact tie; ``valid`` is false when no order gave a parsable answer (``generate``).
    ``p_first_shown`` (per item) is the probability given to whichever option was shown first: its mean
    over items is the scorer's position bias.
    """
    scorer = str(scorer)
    probs = option0_probabilities(model, tokenizer, items, scorer, batch_size, desc, bf16)
    rows = []
    for it, (p0_fwd, p0_rev, answers) in zip(items, probs):
        shown_first = [p for p in (p0_fwd, None if p0_rev is None else 1 - p0_rev) if p is not None]
        for value, aligned in it["labels"].items():
            fwd = None if p0_fwd is None else (p0_fwd if aligned == 0 else 1 - p0_fwd)
            rev = None if p0_rev is None else (p0_rev if aligned == 0 else 1 - p0_rev)
            valid = [p for p in (fwd, rev) if p is not None]
            p = sum(valid) / len(valid) if valid else None
            rows.append({
                "id": it["id"], "family": it["family"], "domain": it["domain"], "value": value,
                "question": it["question"], "options": list(it["options"]), "aligned": aligned, "scorer": scorer,
                "p_aligned_fwd": fwd, "p_aligned_rev": rev, "p_aligned": p, "valid": p is not None,
                "choice_aligned": None if p is None else (1.0 if p > 0.5 else 0.0 if p < 0.5 else 0.5),
                "p_first_shown": sum(shown_first) / len(shown_first) if shown_first else None,
                **({"answers": answers} if answers else {}),
            })
    return rows
