"""Eval contamination: does a job's training data contain its eval prompts?

MSM trains on synthetic documents about the spec and on AFT rows; if the agentic-misalignment
scenarios leaked into either corpus, a good eval score could be recall, not generalization. We
report word n-gram overlap between the training text and the eval prompts.

Why this shape: the eval side is small (a few dozen prompts), the training side is large (13k
documents x ~3k words), so the eval n-gram set is built once and training rows are streamed and
tested for membership; the training n-gram set is never materialized. Spec rule texts legitimately
appear in both corpora, so ``ignore`` removes their n-grams from the eval side before comparing;
otherwise every job would be flagged for the spec quoting itself.
"""

from __future__ import annotations

import argparse
import heapq
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping, Sequence

from msm.jsonl import iter_jsonl, read_jsonl
from msm.text import ngrams, row_text, words


@dataclass
class ContaminationReport:
    """Overlap of eval n-grams with training text; counts are of *distinct* eval n-grams."""

    n: int
    eval_ngrams: int
    overlapping_ngrams: int
    overlap_rate: float
    per_prompt: list[dict]
    top_sources: list[dict]
    max_prompt_rate: float

    def as_metrics(self, prefix: str = "contamination") -> dict:
        """Flat numbers for the tracker; per-prompt and per-source detail live in :meth:`as_dict`."""
        return {
            f"{prefix}/overlap_rate": float(self.overlap_rate),
            f"{prefix}/max_prompt_rate": float(self.max_prompt_rate),
            f"{prefix}/overlapping_ngrams": int(self.overlapping_ngrams),
            f"{prefix}/eval_ngrams": int(self.eval_ngrams),
            f"{prefix}/n": int(self.n),
        }

    def as_dict(self) -> dict:
        return asdict(self)


def check(
    training: Mapping[str, Iterable[dict]],
    prompts: Sequence[dict],
    n: int = 8,
    ignore: Iterable[str] = (),
    top_k: int = 10,
) -> ContaminationReport:
    """Scan every training row (any source name, e.g. ``documents`` and ``aft``) for eval n-grams.

    ``prompts`` are rows ``{"id", "text"}``; ``ignore`` are boilerplate texts (spec rules) whose
    n-grams are dropped from the eval side. Training iterables are consumed once, row by row.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    boiler: set[tuple[str, ...]] = set()
    for t in ignore:
        boiler |= ngrams(t, n)
    per_prompt_grams = [(p["id"], ngrams(row_text(p), n) - boiler) for p in prompts]
    eval_set: set[tuple[str, ...]] = set().union(*(g for _, g in per_prompt_grams))

    found: set[tuple[str, ...]] = set()
    heap: list[tuple[int, int, dict]] = []  # min-heap of (overlap, -order, source) keeps the top_k rows
    order = 0
    for source, rows in training.items():
        for row in rows:
            w = words(row_text(row))
            hits: set[tuple[str, ...]] = set()
            example = None
            for i in range(len(w) - n + 1):
                g = tuple(w[i : i + n])
                if g in eval_set:
                    hits.add(g)
                    example = example or " ".join(g)
            if not hits:
                continue
            found |= hits
            order += 1
            item = (len(hits), -order, {"source": source, "id": row.get("id"), "overlap": len(hits), "example": example})
            if len(heap) < top_k:
                heapq.heappush(heap, item)
            else:
                heapq.heappushpop(heap, item)

    per_prompt = []
    for pid, grams in per_prompt_grams:
        ov = len(grams & found)
        per_prompt.append({"id": pid, "ngrams": len(grams), "overlap": ov, "rate": ov / len(grams) if grams else 0.0})
    per_prompt.sort(key=lambda r: (-r["rate"], str(r["id"])))
    top = [it for _, _, it in sorted(heap, key=lambda x: (-x[0], -x[1]))]
    return ContaminationReport(
        n=n,
        eval_ngrams=len(eval_set),
        overlapping_ngrams=len(found),
        overlap_rate=len(found) / len(eval_set) if eval_set else 0.0,
        per_prompt=per_prompt,
        top_sources=top,
        max_prompt_rate=max((r["rate"] for r in per_prompt), default=0.0),
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="N-gram overlap between training corpora and eval prompts.")
    ap.add_argument("--documents", required=True, help="JSONL rows with id, text")
    ap.add_argument("--aft", help="JSONL rows with id, messages")
    ap.add_argument("--prompts", required=True, help="JSONL rows with id, text")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--ignore", action="append", default=[], help="plain-text file of boilerplate (repeatable)")
    args = ap.parse_args(argv)

    # Streamed, so a 13k-document corpus is never held in memory at once.
    training = {"documents": (row for _, row in iter_jsonl(args.documents))}
    if args.aft:
        training["aft"] = (row for _, row in iter_jsonl(args.aft))
    ignore = [open(p).read() for p in args.ignore]
    rep = check(training, read_jsonl(args.prompts), n=args.n, ignore=ignore)

    print(f"n={rep.n}  eval n-grams={rep.eval_ngrams}  overlapping={rep.overlapping_ngrams}  "
          f"rate={rep.overlap_rate:.4f}  max prompt rate={rep.max_prompt_rate:.4f}")
    print(f"{'prompt':<32} {'ngrams':>8} {'overlap':>8} {'rate':>8}")
    for r in rep.per_prompt:
        print(f"{str(r['id'])[:32]:<32} {r['ngrams']:>8} {r['overlap']:>8} {r['rate']:>8.4f}")
    if rep.top_sources:
        print(f"{'source':<10} {'id':<24} {'overlap':>8}  example")
        for s in rep.top_sources:
            print(f"{s['source']:<10} {str(s['id'])[:24]:<24} {s['overlap']:>8}  {s['example']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
