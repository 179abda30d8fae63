"""Statistics over training seeds, as the paper reports them.

The unit of replication is the training seed: each seed gives one rate per metric, and an arm's
result is the mean over its seeds with +-1 SEM (ddof=1) as the error bar. Item counts (``n``) say
how precise each per-seed rate is but are not the replication count, so they are reported beside
the statistics and never used in them. Comparisons between arms use Welch's t-test because arms
need not have equal variance (an arm that does nothing is often much tighter than one that trains).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from scipy import stats

from msm.errors import MsmError

from .results import ARMS, rate_columns, to_long

log = logging.getLogger(__name__)

DEFAULT_BY = ("spec", "model", "arm", "aft_scale")


def _sem(values: np.ndarray) -> float:
    """Standard error of the mean over seeds; NaN for a single seed instead of a warning."""
    return float(stats.sem(values, ddof=1)) if len(values) > 1 else math.nan


def _arm_order(col: pd.Series) -> pd.Series:
    """Sort key: arms in the paper's reading order, unknown arms after them; other columns as-is."""
    if col.name != "arm":
        return col
    order = list(ARMS) + sorted({str(a) for a in col.dropna() if a not in ARMS})
    return col.map(lambda a: order.index(str(a)) if not pd.isna(a) else -1)


def _sorted_seeds(seeds: list) -> list:
    try:
        return sorted(seeds)
    except TypeError:  # a missing seed (<NA>) or mixed types: fall back to text order
        return sorted(seeds, key=str)


def summarize(df: pd.DataFrame, metrics=None, by=DEFAULT_BY) -> pd.DataFrame:
    """Mean over seeds, SEM, n_seeds, the seeds and the summed item count, per group and metric.

    One row per (``by`` group, metric); ``metrics`` defaults to every rate column. Groups are kept
    even when a key is missing (``aft_scale`` is empty for arms without AFT), hence ``dropna=False``.
    A group holding the same seed twice means ``by`` is missing a column that tells jobs apart
    (model, eval, midtrain ...): that is logged, because the SEM would then be wrong.
    """
    by = list(by)
    absent = [c for c in by if c not in df.columns]
    if absent:
        raise MsmError(f"cannot group by {absent}: not columns of the results (have {list(df.columns)})")
    long = to_long(df, metrics)
    metrics = rate_columns(df) if metrics is None else list(metrics)
    rows = []
    for key, group in long.groupby(by + ["metric"], dropna=False, sort=False):
        values = group["value"].to_numpy(dtype=float)
        seeds = group["seed"].tolist() if "seed" in group else []
        if len(set(seeds)) < len(seeds):
            log.warning("group %s has repeated seeds %s: add a column to `by` to separate jobs", key, seeds)
        rows.append(
            dict(
                zip(by + ["metric"], key),
                mean=float(values.mean()),
                sem=_sem(values),
                n_seeds=len(values),
                seeds=_sorted_seeds(seeds),
                n=group["n"].sum(min_count=1),
            )
        )
    out = pd.DataFrame(rows, columns=by + ["metric", "mean", "sem", "n_seeds", "seeds", "n"])
    if out.empty:
        return out
    out["_metric"] = out["metric"].map({m: i for i, m in enumerate(metrics)})
    out = out.sort_values(["_metric"] + by, key=_arm_order, na_position="first", kind="stable")
    return out.drop(columns="_metric").reset_index(drop=True)


def _select(df: pd.DataFrame, where: dict, metric: str) -> np.ndarray:
    """Per-seed values of ``metric`` in rows matching every ``column: value`` (None matches missing)."""
    mask = pd.Series(True, index=df.index)
    for col, want in where.items():
        if col not in df.columns:
            raise MsmError(f"cannot select on {col!r}: not a column of the results")
        if want is None or (isinstance(want, float) and math.isnan(want)):
            mask &= df[col].isna()
        else:
            mask &= df[col].eq(want).fillna(False).astype(bool)
    values = pd.to_numeric(df.loc[mask, metric], errors="coerce").dropna().to_numpy(dtype=float)
    if len(values) == 0:
        raise MsmError(f"no jobs with {where} have a value for {metric!r}")
    return values


def compare(df: pd.DataFrame, metric: str, a: dict, b: dict) -> dict:
    """Is group ``a`` different from group ``b`` on ``metric``? Welch's t-test over per-seed values.

    ``a`` and ``b`` select rows by column values, e.g. ``{"spec": "cheese_affordability",
    "arm": "msm_aft"}``. Returns the means, ``diff = mean_a - mean_b``, Welch's t and two-sided p
    (NaN when either side has fewer than two seeds) and the number of seeds on each side.
    """
    if metric not in df.columns:
        raise MsmError(f"unknown metric {metric!r}; available rates: {rate_columns(df)}")
    va, vb = _select(df, a, metric), _select(df, b, metric)
    if len(va) > 1 and len(vb) > 1:
        t, p = stats.ttest_ind(va, vb, equal_var=False)
    else:
        t = p = math.nan
    return {
        "metric": metric,
        "a": dict(a),
        "b": dict(b),
        "mean_a": float(va.mean()),
        "mean_b": float(vb.mean()),
        "diff": float(va.mean() - vb.mean()),
        "t": float(t),
        "p": float(p),
        "n_a": len(va),
        "n_b": len(vb),
    }
