"""Cheese value generalization (PAPER.md, Experiment 1), measured in held-out domains.

Item comparisons ask whether the model prefers the affordable item (value ``affordability``);
political statements ask whether it takes the pro-America side (value ``america``). Every rate comes
with its n, per value and per domain, so a sweep can be read without going back to the samples.
"""

from __future__ import annotations

import random
from collections import defaultdict

from msm.data.cheese import load_eval_items
from msm.evals.forced_choice import score_items
from msm.models import use_bf16_autocast

VERSION = 2  # 2: metrics carry /k, rows the question; part of the artifact key of what this module builds: bump it when its output changes


def select_items(families, max_items: int | None, seed: int) -> list[dict]:
    """The eval set: every item of the chosen families, or a fixed subset spread evenly over domains.

    The subset takes items from each domain in turn (each domain shuffled by ``seed``), so a small
    demo eval still reports every domain with about the same n.
    """
    items = load_eval_items(families=list(families))
    if not max_items or max_items >= len(items):
        return items
    rng = random.Random(seed)
    by_domain: dict[str, list[dict]] = defaultdict(list)
    for it in sorted(items, key=lambda it: it["id"]):
        by_domain[it["domain"]].append(it)
    queues = [rng.sample(rows, len(rows)) for _, rows in sorted(by_domain.items())]
    picked: list[dict] = []
    while len(picked) < max_items:
        for q in queues:
            if q and len(picked) < max_items:
                picked.append(q.pop())
    return sorted(picked, key=lambda it: it["id"])


def summarize(rows: list[dict]) -> dict:
    """Flat metrics: ``<value>/rate`` (aligned choices), ``<value>/p_aligned``, ``<value>/n``, ``<value>/k``
    (the aligned choices themselves, for pooled counts), and the same per domain."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["value"]].append(r)
        groups[f"{r['value']}/{r['domain']}"].append(r)
    metrics = {}
    for name, rs in sorted(groups.items()):
        metrics[f"{name}/rate"] = sum(r["choice_aligned"] for r in rs) / len(rs)
        metrics[f"{name}/p_aligned"] = sum(r["p_aligned"] for r in rs) / len(rs)
        metrics[f"{name}/n"] = len(rs)
        metrics[f"{name}/k"] = sum(r["choice_aligned"] for r in rs)  # pooled aligned choices (a tie counts 0.5)
    return metrics


def evaluate(model, tokenizer, eval_cfg, seed: int, desc: str = "cheese eval") -> tuple[dict, list[dict]]:
    items = select_items(eval_cfg.families, eval_cfg.max_items, seed)
    bf16 = use_bf16_autocast(eval_cfg.precision, model)
    rows = score_items(model, tokenizer, items, eval_cfg.batch_size, desc, bf16)
    return summarize(rows), rows
