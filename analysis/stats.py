"""Statistics over training seeds, as the paper reports them, and the tests a careful reader asks for.

The unit of replication is the training seed: each seed gives one rate per metric, and a group's result
is the mean over its seeds with +-1 SEM (ddof=1), the paper's error bars. Item counts say how precise
each per-seed rate is; they are pooled (``k`` events of ``n`` items, with a Wilson interval) and shown
beside the seed statistics, never mixed into them. Two groups are compared by

- the difference of their means and its standard error, Welch's t-test (arms need not share a variance:
  an arm that does nothing is often much tighter than one that trains);
- an exact permutation test over seeds (every relabelling of the seeds when there are at most
  ``MAX_PERMUTATIONS``, otherwise that many drawn with a fixed seed), which assumes no distribution;
- a percentile bootstrap CI of the difference (fixed seed, so a rerun prints the same interval);
- Fisher's exact test on the pooled counts, which uses the items but treats them as independent;

and a report's family of comparisons is corrected with Benjamini-Hochberg. Every function takes plain
arrays or the frames of :mod:`analysis.results`, and everything it computes comes from ``scipy.stats``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from msm.errors import MsmError
from msm.evals.target import fisher

from .results import ARMS, check_replicates, group_columns, rate_columns, to_long

CONFIDENCE = 0.95
MAX_PERMUTATIONS = 100_000
BOOTSTRAP_RESAMPLES = 9_999
RANDOM_SEED = 0  # bootstrap and (when not exact) permutation draws: the same table prints the same numbers
NAN = math.nan


def sem(values: Sequence[float]) -> float:
    """Standard error of the mean (ddof=1); NaN for fewer than two values."""
    values = np.asarray(values, dtype=float)
    return float(stats.sem(values, ddof=1)) if len(values) > 1 else NAN


def wilson(k: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a pooled proportion ``k / n`` (``k`` rounded to whole events)."""
    if not (n > 0) or math.isnan(k):
        return NAN, NAN
    ci = stats.binomtest(int(round(k)), int(round(n))).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def _mean_diff(x, y, axis=-1):
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def compare_values(a: Sequence[float], b: Sequence[float], ka: float = NAN, na: float = NAN, kb: float = NAN,
                   nb: float = NAN) -> dict:
    """Every statistic of "does ``a`` differ from ``b``" over per-seed values, with pooled counts when given.

    The per-seed tests need at least two seeds on each side (NaN otherwise); Fisher's test needs counts.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        raise MsmError("cannot compare an empty group")
    out = {"mean_a": float(a.mean()), "sem_a": sem(a), "mean_b": float(b.mean()), "sem_b": sem(b),
           "diff": float(a.mean() - b.mean()),
           "se_diff": NAN, "welch_t": NAN, "welch_df": NAN, "welch_p": NAN, "perm_p": NAN, "perm_exact": False,
           "boot_lo": NAN, "boot_hi": NAN, "fisher_odds": NAN, "fisher_p": NAN, "n_seeds_a": len(a), "n_seeds_b": len(b)}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # zero variance or a single seed: scipy warns and returns NaN/inf
        if len(a) > 1 and len(b) > 1:
            out["se_diff"] = float(math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
            welch = stats.ttest_ind(a, b, equal_var=False)
            out.update(welch_t=float(welch.statistic), welch_df=float(welch.df), welch_p=float(welch.pvalue))
            boot = stats.bootstrap((a, b), _mean_diff, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                                   confidence_level=CONFIDENCE, vectorized=True,
                                   rng=np.random.default_rng(RANDOM_SEED))
            out.update(boot_lo=float(boot.confidence_interval.low), boot_hi=float(boot.confidence_interval.high))
            perm = stats.permutation_test((a, b), _mean_diff, permutation_type="independent", vectorized=True,
                                          n_resamples=MAX_PERMUTATIONS, alternative="two-sided",
                                          rng=np.random.default_rng(RANDOM_SEED))
            out["perm_p"] = float(perm.pvalue)
            out["perm_exact"] = math.comb(len(a) + len(b), len(a)) <= MAX_PERMUTATIONS
        if not any(math.isnan(x) for x in (ka, na, kb, nb)) and na > 0 and nb > 0:
            odds, p = fisher(ka, na, kb, nb)
            out.update(fisher_odds=odds, fisher_p=p)
    return out


def benjamini_hochberg(pvalues: Sequence[float]) -> np.ndarray:
    """BH-adjusted q-values of a family of tests; NaN p-values stay NaN and are not counted in the family."""
    p = np.asarray(pvalues, dtype=float)
    q = np.full(p.shape, NAN)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


# ---- over a sweep's frames --------------------------------------------------------------------------------


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


def _sum(values: pd.Series) -> float:
    return float(values.sum(min_count=1)) if values.notna().any() else NAN


SUMMARY_COLUMNS = ["mean", "sem", "n_seeds", "seeds", "k", "n", "failures", "valid_rate", "pooled_rate",
                   "wilson_lo", "wilson_hi"]


def summarize(df: pd.DataFrame, metrics: Sequence[str] | None = None, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Per group and metric: mean over seeds, SEM, the seeds, and the pooled counts (``k`` of ``n``, with
    ``failures`` left out of ``n``, ``valid_rate = n / (n + failures)``, a Wilson interval of ``k / n``).

    Groups are every identity column except the seed unless ``by`` says otherwise, kept even when a key
    is missing (``aft_scale`` is empty for arms without AFT). A group that holds a seed twice is an error
    naming the columns that tell its jobs apart.
    """
    by = group_columns(df, by)
    check_replicates(df, by)
    metrics = rate_columns(df) if metrics is None else list(metrics)
    long = to_long(df, metrics)
    rows = []
    for key, group in long.groupby([*by, "metric"], dropna=False, sort=False):
        values = group["value"].to_numpy(dtype=float)
        k, n, failures = _sum(group["k"]), _sum(group["n"]), _sum(group["failures"])
        lo, hi = wilson(k, n)
        rows.append(dict(
            zip([*by, "metric"], key), mean=float(values.mean()), sem=sem(values), n_seeds=len(values),
            seeds=_sorted_seeds(group["seed"].tolist()) if "seed" in group else [], k=k, n=n, failures=failures,
            valid_rate=n / (n + failures) if not math.isnan(failures) and n + failures > 0 else NAN,
            pooled_rate=k / n if n > 0 else NAN, wilson_lo=lo, wilson_hi=hi))
    out = pd.DataFrame(rows, columns=[*by, "metric", *SUMMARY_COLUMNS])
    if out.empty:
        return out
    out["_metric"] = out["metric"].map({m: i for i, m in enumerate(metrics)})
    first = [c for c in ("spec", "model", "arm") if c in by]  # arms read in the paper's order within a spec
    out = out.sort_values(["_metric", *first, *(c for c in by if c not in first)], key=_arm_order,
                          na_position="first", kind="stable")
    return out.drop(columns="_metric").reset_index(drop=True)


RETENTION_METRICS = (
    "retention/kl_mean", "retention/bits_per_byte_delta", "retention/bits_per_byte", "base/retention/bits_per_byte",
    "retention/capability/accuracy", "base/retention/capability/accuracy",
    "retention/over_refusal_rule_based/rate", "base/retention/over_refusal_rule_based/rate",
    "retention/over_refusal_judge/rate", "base/retention/over_refusal_judge/rate",
)
"""What ``eval.also=[retention]`` measured (msm/evals/retention.py), read beside the target metric per arm."""


def retention_summary(df: pd.DataFrame, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Per group (every identity column but the seed, as :func:`summarize`): mean and SEM over seeds of each
    retention number, off-target drift included; empty when no job measured retention."""
    by = group_columns(df, by)
    columns = [c for c in (*RETENTION_METRICS, *sorted(c for c in df.columns if c.startswith("retention/off_target/")
                                                        and c.endswith("/drift"))) if c in df.columns]
    if columns:  # the target first: retention is read beside what the arm was trained for
        columns = [c for c in ("target/rate", "base/target/rate") if c in df.columns] + columns
    rows = []
    for metric in columns:
        for key, group in df[df[metric].notna()].groupby(list(by), dropna=False, sort=False):
            values = group[metric].to_numpy(dtype=float)
            rows.append(dict(zip(by, key if isinstance(key, tuple) else (key,)), metric=metric,
                             mean=float(values.mean()), sem=sem(values), n_seeds=len(values)))
    return pd.DataFrame(rows, columns=[*by, "metric", "mean", "sem", "n_seeds"])


def persona_spread(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group and headline rate measured across personas (``eval.personas``): the rate, its spread across
    personas and each persona's rate, means over seeds."""
    spreads = [c for c in df.columns if isinstance(c, str) and c.endswith("/persona_spread")]
    rows = []
    for col in spreads:
        metric = col[: -len("/persona_spread")]
        personas = sorted(c for c in df.columns if isinstance(c, str) and c.startswith(f"{metric}/persona_")
                          and c.endswith("/rate"))
        shown = [c for c in by if c in ("spec", "arm") or df[c].astype(str).nunique() > 1]
        for key, group in df[df[col].notna()].groupby(shown, dropna=False, sort=False):
            row = dict(zip(shown, key if isinstance(key, tuple) else (key,)))
            row.update({"metric": f"{metric}/rate", "rate": group[f"{metric}/rate"].astype(float).mean(),
                        "spread": group[col].astype(float).mean(), "seeds": len(group)})
            row.update({p.split("/")[1].removeprefix("persona_"): group[p].astype(float).mean() for p in personas})
            rows.append(row)
    return pd.DataFrame(rows)


def select(df: pd.DataFrame, where: dict) -> pd.DataFrame:
    """Rows matching every ``column: value`` of ``where`` (None or NaN matches a missing value)."""
    mask = pd.Series(True, index=df.index)
    for col, want in where.items():
        if col not in df.columns:
            raise MsmError(f"cannot select on {col!r}: not a column of the results")
        if want is None or (isinstance(want, float) and math.isnan(want)):
            mask &= df[col].isna()
        else:
            mask &= df[col].astype(object).eq(want).fillna(False).astype(bool)
    return df[mask]


def _side(df: pd.DataFrame, where: dict, metric: str) -> tuple[np.ndarray, float, float, float]:
    rows = select(df, where)
    values = pd.to_numeric(rows[metric], errors="coerce")
    rows, values = rows[values.notna()], values.dropna().to_numpy(dtype=float)
    if len(values) == 0:
        raise MsmError(f"no jobs with {where} have a value for {metric!r}")
    long = to_long(rows, [metric])
    return values, _sum(long["k"]), _sum(long["n"]), _sum(long["failures"])


def compare(df: pd.DataFrame, metric: str, a: dict, b: dict) -> dict:
    """Is group ``a`` different from group ``b`` on ``metric``? Every statistic of :func:`compare_values`.

    ``a`` and ``b`` select rows by column values, e.g. ``{"spec": "cheese_affordability", "arm": "msm_aft"}``.
    Returns the selections, the per-seed statistics (``t`` and ``p`` are Welch's), the pooled counts of
    each side (``k_a``, ``n_a_items``, ``failures_a`` ...) and the number of seeds on each side.
    """
    if metric not in df.columns:
        raise MsmError(f"unknown metric {metric!r}; available rates: {rate_columns(df)}")
    if "scorer" in df.columns:
        scorers = {s: sorted(select(df, w)["scorer"].dropna().astype(str).unique()) for s, w in (("a", a), ("b", b))}
        if len(set(scorers["a"]) | set(scorers["b"])) > 1:
            raise MsmError(f"{metric}: the two sides were scored differently ({scorers['a']} vs {scorers['b']}); rates "
                           "from different scorers measure different things and are never compared")
    (va, ka, na, fa), (vb, kb, nb, fb) = _side(df, a, metric), _side(df, b, metric)
    counts = metric.endswith("/rate")
    out = compare_values(va, vb, *((ka, na, kb, nb) if counts else (NAN,) * 4))
    return {"metric": metric, "a": dict(a), "b": dict(b), **out, "t": out["welch_t"], "p": out["welch_p"],
            "n_a": len(va), "n_b": len(vb), "k_a": ka, "n_items_a": na,
            "failures_a": fa, "k_b": kb, "n_items_b": nb, "failures_b": fb}


def detectable_difference(se_diff: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest true difference a two-sided Welch test at ``alpha`` detects with probability ``power``,
    given the standard error of the difference and its degrees of freedom: (t_{1-alpha/2} + t_{power}) x SE.
    What a null means: an effect at least this large would likely have shown (NaN without an SE). A floor,
    not a guarantee: with 4 + 4 seeds the exact permutation test needs about 1.2x this for 80% power
    (docs/analysis.md, simulated on normal data)."""
    if math.isnan(se_diff) or math.isnan(df) or df <= 0:
        return NAN
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * se_diff)


def diff_in_diff(df: pd.DataFrame, own: str, cross: str, a: dict, b: dict) -> dict:
    """Difference-in-differences: the shift of ``own`` from ``b`` to ``a`` minus the shift of ``cross``.

    For the cheese experiment's double dissociation, ``a`` is MSM+AFT on a spec and ``b`` AFT only:
    the spec's own value should move and the other value should not. Each job gives one per-seed
    difference ``own - cross``, so the statistic is the difference of those differences' means, with its
    standard error and every test of :func:`compare_values` over the per-seed differences.
    """
    for m in (own, cross):
        if m not in df.columns:
            raise MsmError(f"unknown metric {m!r}; available rates: {rate_columns(df)}")

    def per_seed(where):
        rows = select(df, where)
        d = (pd.to_numeric(rows[own], errors="coerce") - pd.to_numeric(rows[cross], errors="coerce")).dropna()
        if d.empty:
            raise MsmError(f"no jobs with {where} have both {own!r} and {cross!r}")
        return d.to_numpy(dtype=float)

    out = compare_values(per_seed(a), per_seed(b))
    return {"own": own, "cross": cross, "a": dict(a), "b": dict(b), "did": out["diff"], **out}
