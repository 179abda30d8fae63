"""Value generalization (the paper's Experiment 1), measured in held-out domains, for every value the items label.

The packaged items (``eval.item_files=[cheese]``) label item comparisons for ``affordability`` and political
statements for ``america``; a researcher adds items for another value as one more JSONL file
(``eval.item_files=[cheese,my_items.jsonl]``, docs/contributing.md: adding a spec). Every value any item labels gets a rate,
with its n, per value and per domain, from the scorer ``eval.scorer`` (``letter``, ``stance`` or
``generate``; see ``msm.evals.forced_choice``), so a sweep can be read without going back to the samples.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from msm.data.cheese import load_eval_items
from msm.evals.forced_choice import score_items
from msm.models import use_bf16_autocast

VERSION = 3  # 3: items label values, three scorers, valid counts; part of the eval artifact's key


def select_items(families: Sequence[str] | None, max_items: int | None, seed: int,
                 files: Sequence[str] | None = None) -> list[dict]:
    """The eval set: every item of the chosen families (None: all), or a fixed subset spread over domains.

    The subset takes items from each domain in turn (each domain shuffled by ``seed``), so a small
    demo eval still reports every domain with about the same n.
    """
    items = load_eval_items(families=list(families) if families else None, files=files)
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
    """Flat metrics per value and per value/domain: ``rate`` (aligned choices among valid items),
    ``p_aligned``, ``n`` (valid items), ``k`` (aligned choices; a tie counts 0.5), ``failures`` (items no
    order of which gave a usable answer), and ``diagnostic/p_first_shown``, the scorer's position bias
    (0.5 means none)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["value"]].append(r)
        groups[f"{r['value']}/{r['domain']}"].append(r)
    metrics: dict = {}
    for name, rs in sorted(groups.items()):
        valid = [r for r in rs if r.get("valid", True)]
        metrics[f"{name}/n"] = len(valid)
        metrics[f"{name}/failures"] = len(rs) - len(valid)
        metrics[f"{name}/k"] = sum(r["choice_aligned"] for r in valid)
        if valid:
            metrics[f"{name}/rate"] = metrics[f"{name}/k"] / len(valid)
            metrics[f"{name}/p_aligned"] = sum(r["p_aligned"] for r in valid) / len(valid)
    first = [r["p_first_shown"] for r in {r["id"]: r for r in rows}.values() if r.get("p_first_shown") is not None]
    if first:
        metrics["diagnostic/p_first_shown"] = sum(first) / len(first)
    return metrics


def evaluate(model, tokenizer, eval_cfg, seed: int, desc: str = "value eval") -> tuple[dict, list[dict]]:
    items = select_items(eval_cfg.families, eval_cfg.max_items, seed, files=list(eval_cfg.item_files))
    bf16 = use_bf16_autocast(eval_cfg.precision, model)
    rows = score_items(model, tokenizer, items, eval_cfg.batch_size, desc, bf16, scorer=str(eval_cfg.scorer))
    return {"scorer": str(eval_cfg.scorer), **summarize(rows)}, rows
