"""Bar charts of a rate per spec and arm, drawn the way the paper draws them.

Bars are seaborn's mean over the per-seed rates with ``errorbar="se"`` (+-1 SEM, ddof=1), the
same numbers :func:`analysis.stats.summarize` reports, with the seeds themselves as dots so four
seeds never hide behind one bar. The untrained model's rate (``base/<metric>``) is a dashed line
(one per model when a sweep has several): a shift only means something against where the model
started.

Figures are built on a bare :class:`~matplotlib.figure.Figure` with the Agg canvas instead of
through pyplot, so drawing never depends on (or changes) the global backend: the same code runs
headless on a cluster node and inside a notebook.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from msm.errors import MsmError

from .results import ARMS


def figure_name(metric: str) -> str:
    """File name for a metric's figure: ``affordability/rate`` -> ``affordability-rate.png``."""
    return metric.replace("/", "-") + ".png"


def _bar_frame(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per-seed rows with ``group`` (x: spec, plus model when several) and ``bar`` (hue: arm).

    When one arm of a spec ran at several AFT scales the scale joins the bar's label, so each bar
    still averages seeds of a single configuration.
    """
    data = df[df[metric].notna()].copy()
    data[metric] = data[metric].astype(float)
    data["group"] = data["spec"].astype(str)
    if data["model"].nunique(dropna=False) > 1:
        data["group"] += "\n" + data["model"].astype(str)
    data["bar"] = data["arm"].astype(str)
    if "aft_scale" in data and (data.groupby(["group", "bar"])["aft_scale"].nunique(dropna=False) > 1).any():
        data["bar"] = data["bar"] + data["aft_scale"].map(_scale_label)
    return data


def _scale_label(scale) -> str:
    """`` @1250`` for an AFT size (also when a hand-built frame made it 1250.0); empty without AFT."""
    if pd.isna(scale):
        return ""
    return f" @{int(scale)}" if float(scale).is_integer() else f" @{scale}"


def _hue_order(bars) -> list[str]:
    rank = {arm: i for i, arm in enumerate(ARMS)}

    def key(bar: str):
        arm, _, scale = bar.partition(" @")
        return (rank.get(arm, len(ARMS)), arm, int(scale) if scale.isdigit() else -1)

    return sorted(set(bars), key=key)


def _draw_base(ax, data: pd.DataFrame, base: str, groups: list[str]) -> None:
    """Dashed line at the untrained model's mean rate: across the plot, or per group if they differ."""
    if base not in data.columns or data[base].isna().all():
        return
    means = data.groupby("group")[base].apply(lambda v: pd.to_numeric(v).mean())
    style = dict(color="grey", linestyle="--", label="untrained model")
    if means.nunique() <= 1:
        ax.axhline(float(means.dropna().iloc[0]), **style)
        return
    for i, group in enumerate(groups):  # several models: each started from its own base rate
        if pd.notna(means.get(group)):
            ax.hlines(float(means[group]), i - 0.45, i + 0.45, **style)
            style.pop("label", None)


def bar_by_arm(df: pd.DataFrame, metric: str, out_path) -> Path:
    """Save a PNG of ``metric``: one bar per (spec, arm), +-1 SEM over seeds; return its path."""
    if metric not in df.columns:
        raise MsmError(f"cannot plot {metric!r}: not a column of the results")
    data = _bar_frame(df, metric)
    if data.empty:
        raise MsmError(f"cannot plot {metric!r}: no job has a value for it")
    hue_order = _hue_order(data["bar"])
    groups = list(dict.fromkeys(sorted(data["group"])))

    fig = Figure(figsize=(3.0 + 0.6 * len(groups) * len(hue_order), 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    common = dict(data=data, x="group", y=metric, hue="bar", order=groups, hue_order=hue_order, ax=ax)
    sns.barplot(**common, errorbar="se", capsize=0.15, alpha=0.85)
    sns.stripplot(**common, dodge=True, palette="dark:black", size=3, legend=False)

    _draw_base(ax, data, f"base/{metric}", groups)
    ax.set_xlabel("")
    ax.set_ylabel("mean \u00b1 1 SEM over seeds")
    ax.set_title(metric)
    if metric.endswith("/rate"):
        ax.set_ylim(0, 1.02)  # rates share one scale, so figures of one sweep compare by eye
    ax.legend(title="arm", fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=150)
    return out_path
