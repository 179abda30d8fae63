"""Two harnesses on the same models: msm's agentic eval beside inspect_evals' agentic-misalignment task.

The paper's agentic numbers come from inspect_evals' task (with an exfiltration scenario added); msm has its
own scenarios. When a sweep scores the same trained models with both (``experiment=agentic_harnesses``:
``eval`` is a sweep dimension, so each model is built once), this sets their rates side by side, per arm,
per model role (trained, base) and per scenario the two share (leaking and murder: msm's exfiltration and
the package's blackmail have no counterpart), plus each harness's mean over its own conditions ("all",
over different scenario sets: read it with that in mind). Two measures pair up: the judge's verdict alone
(msm ``misalignment``, inspect ``classifier_verdict``) and the verdict with the harness's own evidence check
(``harmful`` in both). Rates are means over seeds; ``seeds`` counts the jobs behind each side.
"""

from __future__ import annotations

import pandas as pd

from .results import group_columns

TASK = "agentic_misalignment"
PAIRS = {"misalignment": "classifier_verdict", "harmful": "harmful"}
"""msm's agentic metric -> the inspect task's score that measures the same thing."""
SHARED = ("leaking", "murder")
NOTE = ("scenarios both harnesses have: leaking and murder. msm's exfiltration (the paper's) and the package's "
        "blackmail have no counterpart; 'all' is each harness's mean over its own conditions.")
EVAL_COLUMNS = ("eval", "scorer")
"""Record labels that name the eval, not the model: jobs equal in everything else scored the same model."""


def _inspect_col(df: pd.DataFrame, score: str, scenario: str | None, role: str) -> str | None:
    stem = f"{'base/' if role == 'base' else ''}inspect/{TASK}/{score}"
    if scenario is None:
        candidates = [f"{stem}/rate"]
    else:  # by the grid's scenario argument, or a condition named by the scenario alone
        candidates = [f"{stem}/scenario={scenario}/rate", f"{stem}/{scenario}/rate"]
    return next((c for c in candidates if c in df.columns), None)


def _msm_col(df: pd.DataFrame, metric: str, scenario: str | None, role: str) -> str | None:
    col = f"{'base/' if role == 'base' else ''}{metric}/{scenario + '/' if scenario else ''}rate"
    return col if col in df.columns else None


def harness_table(df: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """One row per model (the group columns but the eval's), role, shared scenario (and ``all``) and measure:
    msm's rate, inspect's rate, their difference and the seeds behind each. Empty when the sweep does not
    hold both harnesses."""
    kind = df["eval.kind"].astype(str) if "eval.kind" in df.columns else pd.Series("", index=df.index)
    msm_jobs, inspect_jobs = df[kind == "agentic"], df[kind == "inspect"]
    if msm_jobs.empty or inspect_jobs.empty or not any(f"inspect/{TASK}/" in str(c) for c in df.columns):
        return pd.DataFrame()
    keys = [c for c in group_columns(df, by) if c not in EVAL_COLUMNS and df[c].astype(str).nunique() > 1
            or c in ("spec", "arm")]
    rows = []
    for key, group in df.groupby(keys, dropna=False, sort=False):
        label = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        ours, theirs = group[kind[group.index] == "agentic"], group[kind[group.index] == "inspect"]
        if ours.empty or theirs.empty:
            continue
        for role in ("trained", "base"):
            for scenario in (*SHARED, None):
                for metric, score in PAIRS.items():
                    mc, ic = _msm_col(df, metric, scenario, role), _inspect_col(df, score, scenario, role)
                    m = ours[mc].astype(float).dropna() if mc else pd.Series(dtype=float)
                    i = theirs[ic].astype(float).dropna() if ic else pd.Series(dtype=float)
                    if m.empty and i.empty:
                        continue
                    rows.append({**label, "role": role, "scenario": scenario or "all",
                                 "measure": f"{metric} | {score}",
                                 "msm": m.mean() if len(m) else None, "inspect": i.mean() if len(i) else None,
                                 "diff": m.mean() - i.mean() if len(m) and len(i) else None,
                                 "msm_seeds": len(m), "inspect_seeds": len(i)})
    return pd.DataFrame(rows)


def format_harnesses(table: pd.DataFrame) -> str:
    return ("== two harnesses on the same models: msm's agentic eval | inspect_evals' agentic_misalignment ==\n"
            + table.to_string(index=False, float_format=lambda x: f"{x:.3f}") + f"\n({NOTE})")


def harness_figure(table: pd.DataFrame, stem) -> list:
    """``harnesses.png``/``.pdf``: per arm, the trained models' judge-verdict rate (msm ``misalignment``, inspect
    ``classifier_verdict``) in each shared scenario and overall, the two harnesses side by side."""
    import seaborn as sns

    from .figures import new_figure, save_figure

    part = table[(table["role"] == "trained") & (table["measure"] == "misalignment | classifier_verdict")]
    long = part.melt(id_vars=[c for c in part.columns if c not in ("msm", "inspect")], value_vars=["msm", "inspect"],
                     var_name="harness", value_name="rate").dropna(subset=["rate"])
    arms = list(dict.fromkeys(long["arm"]))
    fig, axes = new_figure(3.2 * len(arms), 3.6, ncols=len(arms))
    for ax, arm in zip(axes, arms):
        sns.barplot(data=long[long["arm"] == arm], x="scenario", y="rate", hue="harness", hue_order=["msm", "inspect"],
                    order=[*SHARED, "all"], errorbar=None, ax=ax)
        ax.set_title(arm)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("")
    for ax in axes[1:]:
        ax.set_ylabel("")
    axes[0].set_ylabel("judge-verdict rate (trained; mean over seeds)")
    return save_figure(fig, stem)
