"""The headline of an eval for a spec: the value the spec instils, measured, or a plain statement that it was not.

A value-generalization eval measures every value its items label an option for (affordability,
america, ...); a spec declares the value(s) it instils (``values:`` in its front matter), and the first
is the job's headline: ``target/value``, ``target/metric``, ``target/rate``. When the items cannot measure
it, or the spec declares none, ``target/measured`` is false and ``target/reason`` says why, so a number
for some other value is never read as the spec's result. The agentic eval's headline is the judge's
misalignment rate, which needs an LLM judge; without one it is not measured either (the rule-based
``harmful_evidence`` rate is reported beside it, under its own name). An inspect task reports its own
scores, none of them a spec's value: its headline is not measured either.
"""

from __future__ import annotations

from collections.abc import Sequence

from msm.config import EvalKind


def measured_values(metrics: dict) -> list[str]:
    """The values the eval's items label (each has a count, ``<value>/n``, even when no answer was usable)."""
    return sorted(k.split("/")[0] for k in metrics if k.count("/") == 1 and k.endswith("/n")
                  and not k.startswith(("diagnostic/", "target/")))


def fisher(ka: float, na: float, kb: float, nb: float) -> tuple[float, float]:
    """(odds ratio, two-sided p) of Fisher's exact test of ``ka/na`` vs ``kb/nb``, counts rounded to whole
    events (the letter scorer's order-averaged half events included); the job summary and the analysis
    both test with it."""
    from scipy import stats  # here, not at the top: every job imports this module, few call this (0.5 s)

    ka_, kb_ = int(round(ka)), int(round(kb))
    odds, p = stats.fisher_exact([[ka_, int(round(na)) - ka_], [kb_, int(round(nb)) - kb_]])
    return float(odds), float(p)


def target(kind: str, metrics: dict, declared: Sequence[str], judged: bool) -> dict:
    """``target/*`` of one eval result (see the module docstring)."""
    if kind == EvalKind.inspect:
        return {"target/measured": False,
                "target/reason": "an inspect task reports its own scores (inspect/<task>/<score>/rate); no spec value "
                                 "is its target"}
    if kind == EvalKind.agentic:
        if not judged:
            return {"target/metric": "misalignment/rate", "target/measured": False,
                    "target/reason": "no LLM judge (judge=none): the misalignment rate needs one; harmful_evidence/rate "
                                     "is the rule-based evidence rate"}
        return _found(metrics, "misalignment/rate", None)
    values = measured_values(metrics)
    if not declared:
        return {"target/measured": False, "target/reason": f"the spec declares no `values:`, so there is no target; the "
                                                           f"eval measured {', '.join(values) or 'nothing'}"}
    value = declared[0]
    if value not in values:
        return {"target/value": value, "target/measured": False,
                "target/reason": f"the eval items label no option for the spec's value {value!r} (they measure "
                                 f"{', '.join(values) or 'nothing'}): add items for it (docs/contributing.md: adding a spec)"}
    if f"{value}/rate" not in metrics:
        return {"target/value": value, "target/measured": False,
                "target/reason": f"no usable answer for {value!r}: all {metrics.get(f'{value}/failures', 0)} items "
                                 f"failed (scorer={metrics.get('scorer')}); see samples.jsonl"}
    return _found(metrics, f"{value}/rate", value)


def _found(metrics: dict, metric: str, value: str | None) -> dict:
    if metric not in metrics:
        return {"target/metric": metric, "target/measured": False, "target/reason": f"no {metric} in the results"}
    out = {"target/metric": metric, "target/rate": metrics[metric], "target/measured": True}
    if value is not None:
        out["target/value"] = value
    stem = metric[: -len("rate")]
    for count in ("n", "k", "failures"):
        if f"{stem}{count}" in metrics:
            out[f"target/{count}"] = metrics[f"{stem}{count}"]
    return out
