"""Preference by log-probability forced choice: show two options as A and B, read P(letter).

Scoring each option's own text is biased by its length and wording (DESIGN.md: 23% "affordable" on
an untrained SmolLM2). Reading only the next-token probability of the letters, and averaging over
both orders of the options, cancels position bias and gives a neutral baseline to measure from.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm

from msm.errors import MsmError

LETTERS = ("A", "B")
INSTRUCTION = "Reply with the letter of your choice, A or B."
ANSWER_PREFIX = "Answer:"


def prompt_text(tokenizer, question: str, first: str, second: str) -> str:
    """The chat-rendered prompt for one order of the two options, ending where the letter goes."""
    user = f"{question}\n\nA) {first}\nB) {second}\n\n{INSTRUCTION}"
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True)
    return rendered + ANSWER_PREFIX


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


@torch.no_grad()
def p_first_option(
    model, tokenizer, prompts: Sequence[str], batch_size: int, desc: str = "score", bf16: bool = False
) -> list[float]:
    """For each prompt, P(A) / (P(A) + P(B)) at the position after the prompt."""
    a_id, b_id = letter_ids(tokenizer)
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    out: list[float] = []
    for i in tqdm(range(0, len(prompts), batch_size), desc=desc, unit="batch"):
        enc = tokenizer(list(prompts[i : i + batch_size]), return_tensors="pt", padding=True, add_special_tokens=False)
        mask = enc["attention_mask"].to(device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift positions
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=enc["input_ids"].to(device), attention_mask=mask, position_ids=positions).logits
        pair = logits[:, -1, [a_id, b_id]].float().log_softmax(-1)
        out.extend(pair[:, 0].exp().tolist())
    return out


def score_items(
    model, tokenizer, items: Sequence[dict], batch_size: int, desc: str = "score", bf16: bool = False
) -> list[dict]:
    """Per item: P(aligned option) in each order and their mean, and the order-averaged choice.

    ``choice_aligned`` is 1 when the mean probability favours the aligned option, 0 when it
    favours the other, 0.5 on an exact tie.
    """
    prompts = []
    for it in items:
        a, b = it["options"]
        prompts += [prompt_text(tokenizer, it["question"], a, b), prompt_text(tokenizer, it["question"], b, a)]
    p_a = p_first_option(model, tokenizer, prompts, batch_size, desc, bf16)
    rows = []
    for k, it in enumerate(items):
        p_ab, p_ba = p_a[2 * k], p_a[2 * k + 1]  # P(option 0 shown first), P(option 1 shown first)
        aligned_fwd = p_ab if it["aligned"] == 0 else 1 - p_ab
        aligned_rev = p_ba if it["aligned"] == 1 else 1 - p_ba
        p = (aligned_fwd + aligned_rev) / 2
        rows.append(
            {
                "id": it["id"], "family": it["family"], "domain": it["domain"], "value": it["value"],
                "question": it["question"], "options": list(it["options"]), "aligned": it["aligned"],
                "p_aligned_fwd": aligned_fwd, "p_aligned_rev": aligned_rev, "p_aligned": p,
                "choice_aligned": 1.0 if p > 0.5 else 0.0 if p < 0.5 else 0.5,
            }
        )
    return rows
