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


def select_items(families, max_items: int | None, seed: int) -> list[dict]:
    """The eval set: every item of the chosen families, or a fixed random subset of them."""
    items = load_eval_items(families=list(families))
    if max_items and max_items < len(items):
        items = sorted(random.Random(seed).sample(items, max_items), key=lambda it: it["id"])
    return items


def summarize(rows: list[dict]) -> dict:
    """Flat metrics: ``<value>/rate`` (aligned choices), ``<value>/p_aligned``, ``<value>/n``, and per domain."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["value"]].append(r)
        groups[f"{r['value']}/{r['domain']}"].append(r)
    metrics = {}
    for name, rs in sorted(groups.items()):
        metrics[f"{name}/rate"] = sum(r["choice_aligned"] for r in rs) / len(rs)
        metrics[f"{name}/p_aligned"] = sum(r["p_aligned"] for r in rs) / len(rs)
        metrics[f"{name}/n"] = len(rs)
    return metrics


def evaluate(model, tokenizer, eval_cfg, seed: int, desc: str = "cheese eval") -> tuple[dict, list[dict]]:
    items = select_items(eval_cfg.families, eval_cfg.max_items, seed)
    rows = score_items(model, tokenizer, items, eval_cfg.batch_size, desc)
    return summarize(rows), rows
