"""Sampling free-text responses from the model under test.

``hf`` generates with the trained model itself (base + adapter, already loaded), batched with left
padding: no server to run, the same code on CPU and GPU. ``openai`` asks a served model through
``msm.llm`` instead (any OpenAI-compatible server, for example vLLM serving the merged checkpoint),
which also caches responses on disk. Either way sample ``k`` of a prompt is reproducible: the hf path
seeds each batch from (seed, batch index), the served path keys its cache by the sample index.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm.auto import tqdm


def _chat(system: str, user: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@torch.no_grad()
def sample_hf(model, tokenizer, prompts: Sequence[dict], n: int, *, temperature: float, max_new_tokens: int,
              batch_size: int, seed: int, bf16: bool = False) -> list[list[str]]:
    """``n`` responses for each ``{"system", "user"}`` prompt, as ``[[prompt 0 sample 0..n-1], ...]``."""
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    flat = [(i, k) for i in range(len(prompts)) for k in range(n)]
    texts = [tokenizer.apply_chat_template(_chat(prompts[i]["system"], prompts[i]["user"]), tokenize=False,
                                           add_generation_prompt=True) for i, _ in flat]
    out: list[list[str]] = [[""] * n for _ in prompts]
    for b, start in enumerate(tqdm(range(0, len(flat), batch_size), desc="sample", unit="batch")):
        enc = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True,
                        add_special_tokens=False).to(device)
        torch.manual_seed(seed * 100_003 + b)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            gen = model.generate(**enc, do_sample=temperature > 0, temperature=temperature or None,
                                 max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, use_cache=True)
        new = gen[:, enc["input_ids"].shape[1] :]
        for (i, k), ids in zip(flat[start : start + batch_size], new):
            out[i][k] = tokenizer.decode(ids, skip_special_tokens=True)
    return out


def sample_served(client, prompts: Sequence[dict], n: int, *, temperature: float, max_new_tokens: int) -> list[list[str]]:
    """The same through an ``msm.llm`` client; a failed call yields an empty response (graded as unparsable)."""
    from msm.llm import Request

    reqs = [
        Request(messages=({"role": "user", "content": p["user"]},), system=p["system"], max_tokens=max_new_tokens,
                temperature=temperature, sample_index=k, tag="eval/sample")
        for p in prompts for k in range(n)
    ]
    responses = client.complete_many(reqs, desc="sample")
    return [[r.text if r.ok else "" for r in responses[i * n : (i + 1) * n]] for i in range(len(prompts))]
