"""The paper's comparisons as named reports: which groups each experiment compares, on which metrics.

    cheese        per spec: MSM+AFT vs AFT only, MSM+AFT vs MSM only, MSM only vs baseline, AFT only vs
                  baseline, on both values; the double dissociation as one statistic per spec (the
                  own-value shift minus the cross-value shift, MSM+AFT vs AFT only), and between the two
                  specs (MSM+AFT on one against MSM+AFT on the other, and the same for MSM only), on the
                  rate and on p_aligned, each with the smallest difference its seeds could detect
    agentic       MSM+AFT (with CoT) vs AFT only with and without CoT (another MSM+AFT variant vs AFT
                  only of the same variant), MSM+AFT vs baseline, MSM only vs baseline, AFT only vs baseline
    scaling       at every AFT scale: MSM+AFT vs AFT only
    spec_science  MSM+AFT of each spec vs the reference spec (``rules``), and each vs baseline, policy
                  misuse included
    controls      the value eval's controls (experiment=cheese_controls): each against the untrained model,
                  and the positive against the negative control

A comparison is made within one *context* (the labels it does not select on: model, eval, generator,
judge, ...) and within one *level* of every config field the sweep varies (``midtrain.lr``, ``midtrain.lora.r``,
``midtrain.max_tokens`` ...: :func:`analysis.results.varying_fields`). A job without a field (AFT only has no
MSM learning rate) belongs to every level of it, so MSM+AFT at each learning rate meets the one AFT-only arm;
each row names its level. Each side must be a single configuration: if the rows a side selects still differ
in an identity column, that is an error naming it, never an average over both. Every row carries the
statistics of :func:`analysis.stats.compare_values`, and the report's whole family of tests, every level
included, is corrected with Benjamini-Hochberg (``welch_q``, ``perm_q``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from msm.config import Arm
from msm.errors import MsmError

from .results import IDENTITY, config_columns, rate_columns, varying_fields
from .stats import benjamini_hochberg, compare, detectable_difference, diff_in_diff, select

CONTEXT = ("spec", "model", "eval", "scorer", "generator", "datagen", "judge", "experiment")
AGENTIC_METRICS = ("misalignment/rate", "harmful/rate", "harmful_evidence/rate", "action/rate",
                   "harmful_action_tool/rate", "misalignment_in_action/rate", "policy_misuse/rate",
                   "policy_misuse/cites_rule/rate", "policy_misuse/self_preservation/rate")
CHEESE_VALUES = ("affordability", "america")
REFERENCE_SPEC = "rules"
EXPERIMENT_REPORTS = {"cheese": "cheese", "cheese_cpu": "cheese", "agentic": "agentic", "spec_science": "spec_science",
                      "cheese_controls": "controls"}
"""Presets made for one report; the demo and smoke presets run whatever eval their spec is for, so their
report is read off the results."""


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b``, each a selection of rows by column values, within each context of ``context``.

    ``split``: columns by which side ``a`` alone is split when it varies, each part compared against the
    same ``b`` (MSM+AFT at every AFT scale against the one baseline, which has no scale).
    """

    label: str
    a: dict
    b: dict
    context: tuple[str, ...] = CONTEXT
    split: tuple[str, ...] = ()
    against_base: bool = False  # side b is the untrained model's result (base/<metric>) of the jobs b selects


AT_SCALE = (*CONTEXT, "aft_scale")  # both sides have AFT: compared at one AFT size


def _values(df: pd.DataFrame, col: str, where: dict) -> list:
    return sorted({v for v in select(df, where)[col].dropna().astype(str)}) if col in df else []


def _arm_comparisons(df: pd.DataFrame) -> list[Comparison]:
    """MSM+AFT against AFT only for every pair of AFT variants, and each arm against the baseline."""
    msm_aft, aft_only = Arm.msm_aft.value, Arm.aft_only.value
    ys, xs = _values(df, "aft", {"arm": msm_aft}), _values(df, "aft", {"arm": aft_only})
    primary = "cot" if "cot" in ys else (ys[0] if ys else None)  # the method; other variants meet their own AFT
    out = [Comparison(f"MSM+AFT ({y}) vs AFT only ({x})", {"arm": msm_aft, "aft": y}, {"arm": aft_only, "aft": x},
                      AT_SCALE) for y in ys for x in xs if y == primary or x == y]
    out += [Comparison(f"MSM+AFT ({y}) vs baseline", {"arm": msm_aft, "aft": y}, {"arm": Arm.baseline.value},
                       split=("aft_scale",)) for y in _values(df, "aft", {"arm": msm_aft})]
    out.append(Comparison("MSM only vs baseline", {"arm": Arm.msm_only.value}, {"arm": Arm.baseline.value}))
    out += [Comparison(f"AFT only ({x}) vs baseline", {"arm": aft_only, "aft": x}, {"arm": Arm.baseline.value},
                       split=("aft_scale",)) for x in _values(df, "aft", {"arm": aft_only})]
    return out


def _cheese(df: pd.DataFrame) -> list[Comparison]:
    msm_aft, aft_only, msm_only = Arm.msm_aft.value, Arm.aft_only.value, Arm.msm_only.value
    return [Comparison("MSM+AFT vs AFT only", {"arm": msm_aft}, {"arm": aft_only}, AT_SCALE),
            Comparison("MSM+AFT vs MSM only", {"arm": msm_aft}, {"arm": msm_only}, split=("aft_scale",)),
            Comparison("MSM only vs baseline", {"arm": msm_only}, {"arm": Arm.baseline.value}),
            Comparison("AFT only vs baseline", {"arm": aft_only}, {"arm": Arm.baseline.value}, split=("aft_scale",))]


def _scaling(df: pd.DataFrame) -> list[Comparison]:
    return [Comparison(f"MSM+AFT ({y}) vs AFT only ({x}) at each AFT scale", {"arm": Arm.msm_aft.value, "aft": y},
                       {"arm": Arm.aft_only.value, "aft": x}, AT_SCALE)
            for y in _values(df, "aft", {"arm": Arm.msm_aft.value}) for x in _values(df, "aft", {"arm": Arm.aft_only.value})]


def _spec_science(df: pd.DataFrame) -> list[Comparison]:
    specs = _values(df, "spec", {"arm": Arm.msm_aft.value})
    ref = REFERENCE_SPEC if REFERENCE_SPEC in specs else (specs[0] if specs else REFERENCE_SPEC)
    context = tuple(c for c in AT_SCALE if c != "spec")  # specs compared at one AFT size
    variants = _values(df, "aft", {"arm": Arm.msm_aft.value})
    out = [Comparison(f"MSM+AFT ({y}): {s} vs {ref}", {"spec": s, "arm": Arm.msm_aft.value, "aft": y},
                      {"spec": ref, "arm": Arm.msm_aft.value, "aft": y}, context)
           for y in variants for s in specs if s != ref]
    out += [Comparison(f"MSM+AFT ({y}): {s} vs baseline", {"spec": s, "arm": Arm.msm_aft.value, "aft": y},
                       {"spec": s, "arm": Arm.baseline.value}, split=("aft_scale",)) for y in variants for s in specs]
    return out


def _controls(df: pd.DataFrame) -> list[Comparison]:
    kinds = _values(df, "aft_data", {})
    out = [Comparison(f"{k} vs the untrained model", {"aft_data": k}, {"aft_data": k}, against_base=True) for k in kinds]
    if {"value_choices", "value_choices_shuffled"} <= set(kinds):
        out.append(Comparison("positive vs negative control", {"aft_data": "value_choices"},
                              {"aft_data": "value_choices_shuffled"}))
    return out


def agentic_metrics(df: pd.DataFrame) -> list[str]:
    return [m for m in AGENTIC_METRICS if m in df.columns]


def cheese_metrics(df: pd.DataFrame) -> list[str]:
    return [f"{v}/{s}" for v in CHEESE_VALUES for s in ("rate", "p_aligned") if f"{v}/{s}" in df.columns]


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    metrics: Callable[[pd.DataFrame], list[str]]
    comparisons: Callable[[pd.DataFrame], list[Comparison]]


REPORTS = {
    "cheese": Report("cheese", "Cheese value generalization (the paper's Experiment 1)", cheese_metrics, _cheese),
    "agentic": Report("agentic", "Agentic misalignment (Experiment 2)", agentic_metrics, _arm_comparisons),
    "scaling": Report("scaling", "AFT scaling (Experiment 3)", agentic_metrics, _scaling),
    "spec_science": Report("spec_science", "Model Spec science (Experiment 4)", agentic_metrics, _spec_science),
    "controls": Report("controls", "Controls for the value eval: a trained-in preference, and shuffled answers",
                       cheese_metrics, _controls),
}


def pick_report(df: pd.DataFrame) -> str:
    """The report a sweep was run for: its experiment's, else what its results hold."""
    named = {EXPERIMENT_REPORTS[e] for e in df["experiment"].dropna().astype(str) if e in EXPERIMENT_REPORTS}
    if len(named) == 1:
        return named.pop()
    if cheese_metrics(df):
        return "cheese"
    if df.loc[df["arm"] == Arm.msm_aft.value, "aft_scale"].nunique() > 1:
        return "scaling"
    if df.loc[df["arm"] == Arm.msm_aft.value, "spec"].nunique() > 1:
        return "spec_science"
    return "agentic"


def _one_configuration(rows: pd.DataFrame, where: dict, context: dict) -> None:
    varying = [c for c in (*IDENTITY, *config_columns(rows)) if c != "seed" and c in rows
               and rows[c].astype(str).nunique() > 1]
    if varying:
        raise MsmError(f"{where} within {context} selects jobs that differ in {varying}: the comparison would "
                       f"average different configurations; pick a report that separates them (e.g. --report "
                       f"scaling for several AFT scales) or sweep one at a time")


def run_report(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """One row per (comparison, context, metric) the sweep can make, with every statistic; BH-corrected."""
    if name not in REPORTS:
        raise MsmError(f"unknown report {name!r}; known: {', '.join(REPORTS)}")
    report = REPORTS[name]
    metrics = report.metrics(df)
    if not metrics:
        raise MsmError(f"report {name}: the results hold none of its metrics (headline rates here: "
                       f"{[m for m in rate_columns(df) if m.count('/') == 1][:8]})")
    fields = varying_fields(df)
    rows = []
    for comp in report.comparisons(df):
        context_cols = [c for c in comp.context if c not in comp.a and c not in comp.b]
        for context, level_rows in levels(df, comp.a, comp.b, [*context_cols, *fields]):
            side_b = select(level_rows, comp.b)
            if side_b.empty:
                continue  # the sweep does not hold this arm here
            _one_configuration(side_b, comp.b, context)
            for a, where in _splits(select(level_rows, comp.a), comp):
                _one_configuration(select(level_rows, a), a, context)
                for metric in metrics:
                    frame, sel_a, sel_b = (_with_base(level_rows, a, comp.b, metric) if comp.against_base
                                           else (level_rows, a, comp.b))
                    if select(frame, sel_a)[metric].notna().any() and select(frame, sel_b)[metric].notna().any():
                        stats = compare(frame, metric, sel_a, sel_b)
                        rows.append({"report": name, "comparison": comp.label, **context, **where, "metric": metric,
                                     **{k: v for k, v in stats.items() if k not in ("metric", "a", "b")},
                                     "a": _fmt_sel(a), "b": _fmt_sel(comp.b)})
    if name == "cheese":
        rows += _dissociation(df, fields)
    if not rows:
        raise MsmError(f"report {name}: the sweep holds none of the arms it compares "
                       f"(arms here: {sorted(df['arm'].dropna().unique())})")
    out = pd.DataFrame(rows)
    out["welch_q"] = benjamini_hochberg(out["welch_p"])
    out["perm_q"] = benjamini_hochberg(out["perm_p"])
    return out


def levels(rows: pd.DataFrame, a: dict, b: dict, fields: list[str]) -> list[tuple[dict, pd.DataFrame]]:
    """The levels of the context ``fields`` (labels and varying config fields) that the two sides ``a`` and
    ``b`` of a comparison hold, each with the rows of ``rows`` that belong to it. A row whose field is unset
    belongs to every level of that field: a baseline has no learning rate, AFT only has no MSM dose and no
    generator (it generates nothing), so each MSM+AFT level meets the same AFT-only jobs. Levels that would
    select the same two sides again are left out."""
    if not fields:
        return [({}, rows)]
    sides = pd.concat([select(rows, a), select(rows, b)])
    out, seen = [], set()
    for combo in sides[fields].astype(object).drop_duplicates().itertuples(index=False):
        level = {f: (None if _unset(v) else v) for f, v in zip(fields, combo)}
        mask = pd.Series(True, index=rows.index)
        for f, v in level.items():
            unset = rows[f].isna()
            mask &= unset if v is None else unset | (rows[f].astype(str) == str(v))
        part = rows[mask]
        key = (frozenset(select(part, a).index), frozenset(select(part, b).index))
        if key not in seen and all(key):
            seen.add(key)
            out.append((level, part))
    return out


def _unset(v) -> bool:
    return v is None or (isinstance(v, float) and pd.isna(v))


def _splits(side: pd.DataFrame, comp: Comparison):
    """``(selection, the split's values)`` for each part of side ``a``: one part unless a split column varies."""
    if side.empty:
        return []
    cols = [c for c in comp.split if side[c].astype(str).nunique(dropna=False) > 1]
    if not cols:
        return [(comp.a, {})]
    return [({**comp.a, **dict(zip(cols, key))}, dict(zip(cols, key)))
            for key, _ in side.groupby(cols, dropna=False, sort=True)]


def _with_base(df: pd.DataFrame, a: dict, b: dict, metric: str) -> tuple[pd.DataFrame, dict, dict]:
    """A frame in which the jobs ``b`` selects appear a second time as their untrained model (``base/``
    columns in place of the trained ones), so the trained and the untrained result compare as two groups."""
    stem = metric[: -len("rate")] if metric.endswith("/rate") else None
    cols = [metric] + ([f"{stem}{c}" for c in ("n", "k", "failures")] if stem else [])
    base = select(df, b).copy()
    for c in cols:
        base[c] = base[f"base/{c}"] if f"base/{c}" in base else float("nan")
    frame = pd.concat([select(df, a).assign(_model="trained"), base.assign(_model="untrained")], ignore_index=True)
    return frame, {**a, "_model": "trained"}, {**b, "_model": "untrained"}


def _fmt_sel(where: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in where.items())


DISSOCIATION_STATS = ("rate", "p_aligned")  # the thresholded rate first, then the probability it thresholds
DISSOCIATION_CONTEXT = (*AT_SCALE, "aft")  # both sides at one AFT variant and size: one configuration a side


def _target_value(rows: pd.DataFrame) -> str | None:
    """The one value (``target/value``) these jobs' spec declares, or None."""
    core = rows["target/value"].dropna().astype(str).unique() if "target/value" in rows else []
    return core[0] if len(core) == 1 else None


def _dissociation_row(label: str, context: dict, own: str, cross: str, d: dict, a: dict, b: dict) -> dict:
    return {"report": "cheese", "comparison": label, **context, "metric": f"{own} - {cross}",
            **{k: v for k, v in d.items() if k not in ("own", "cross", "a", "b", "did")},
            "mde_80": detectable_difference(d["se_diff"], d["welch_df"]), "a": _fmt_sel(a), "b": _fmt_sel(b)}


def _dissociation(df: pd.DataFrame, fields: list[str]) -> list[dict]:
    """Per cheese spec with a declared value (target/value): the own-value shift minus the cross-value shift,
    MSM+AFT vs AFT only, at every level of the varying config fields (at every MSM dose of a dose sweep), on
    the rate and on p_aligned; then the same contrast between two specs (:func:`_between_specs`)."""
    rows = []
    a, b = {"arm": Arm.msm_aft.value}, {"arm": Arm.aft_only.value}
    for context, level_rows in levels(df, a, b, [*DISSOCIATION_CONTEXT, *fields]):
        for side in (a, b):
            _one_configuration(select(level_rows, side), side, context)
        value = _target_value(select(level_rows, a))
        for stat in DISSOCIATION_STATS:
            own = f"{value}/{stat}"
            if value is None or own not in df.columns:
                continue
            for cross in (f"{v}/{stat}" for v in CHEESE_VALUES if v != value and f"{v}/{stat}" in df.columns):
                rows.append(_dissociation_row("double dissociation (own - cross shift): MSM+AFT vs AFT only",
                                              context, own, cross, diff_in_diff(level_rows, own, cross, a, b), a, b))
    return rows + _between_specs(df, fields)


def _between_specs(df: pd.DataFrame, fields: list[str]) -> list[dict]:
    """For MSM+AFT and for MSM only: spec A's jobs against spec B's on (A's value - B's value), for two specs
    that declare different values. It is the sum of the two specs' double dissociations against a shared
    arm (AFT only, or the baseline for MSM only), which cancels out: one test over the two specs' seeds, with
    no correction for testing the specs one by one (results/cheese_cpu/PLAN.md pre-registers it)."""
    rows = []
    context_cols = [c for c in DISSOCIATION_CONTEXT if c != "spec"]
    for arm, name in ((Arm.msm_aft.value, "MSM+AFT"), (Arm.msm_only.value, "MSM only")):
        declared = {s: _target_value(select(df, {"arm": arm, "spec": s})) for s in _values(df, "spec", {"arm": arm})}
        declared = {s: v for s, v in declared.items() if v is not None}
        for s1, s2 in ((s1, s2) for s1 in declared for s2 in declared if s1 < s2 and declared[s1] != declared[s2]):
            a, b = {"arm": arm, "spec": s1}, {"arm": arm, "spec": s2}
            for context, level_rows in levels(df, a, b, [*context_cols, *fields]):
                for side in (a, b):
                    _one_configuration(select(level_rows, side), side, context)
                for stat in DISSOCIATION_STATS:
                    own, cross = f"{declared[s1]}/{stat}", f"{declared[s2]}/{stat}"
                    if own in df.columns and cross in df.columns:
                        d = diff_in_diff(level_rows, own, cross, a, b)
                        rows.append(_dissociation_row(f"between specs (own - cross): {name}, {s1} vs {s2}",
                                                      context, own, cross, d, a, b))
    return rows
