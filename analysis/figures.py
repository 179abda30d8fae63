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

import itertools
import re
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from msm.errors import MsmError

from .results import ARMS, config_columns, varying_fields


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
    for col in ("aft_data", "scorer"):  # configurations one arm label would otherwise merge
        if col in data and (data.groupby(["group", "bar"])[col].nunique(dropna=False) > 1).any():
            data["bar"] = data["bar"] + data[col].map(lambda v: "" if pd.isna(v) else f" [{v}]")
    if "aft_scale" in data and (data.groupby(["group", "bar"])["aft_scale"].nunique(dropna=False) > 1).any():
        data["bar"] = data["bar"] + data["aft_scale"].map(_scale_label)
    data["bar"] = data["bar"] + field_suffix(data, ["group", "bar"], varying_fields(df))
    return data


def field_suffix(data: pd.DataFrame, keys: list[str], fields: list[str]) -> pd.Series:
    """`` [midtrain.lr=5e-05]``: each config field (of ``fields``) that still varies among the rows of one
    label (``keys``), named with its value, so a bar or a line is always one configuration. Rows without
    the field (a baseline has no learning rate) get nothing for it."""
    suffix = pd.Series("", index=data.index)
    for field in fields:
        if field in data and (data.groupby(keys, dropna=False)[field].agg(lambda v: v.astype(str).nunique()) > 1).any():
            suffix += data[field].map(lambda v: "" if v is None or pd.isna(v) else f" [{field}={v}]")
    return suffix


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


# ---- the paper's figures ------------------------------------------------------------------------------
#
# Each draws per-seed rows with seaborn (bars or points: the mean, error bars +-1 SEM over seeds), puts
# the number of seeds in the legend, draws the untrained model as a dashed reference line, and saves a
# PNG and a PDF. A bar or a line is always one configuration (several AFT scales get one each). Where
# specs share a panel (Figure 2), the rows of arms without MSM, which a sweep holds once per spec (the
# spec plays no part in them, so the store built them once), are drawn once, so no seed counts twice.

ARM_NAMES = {"baseline": "baseline", "aft_only": "AFT only", "msm_only": "MSM only", "msm_aft": "MSM+AFT"}


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """``stem.png`` and ``stem.pdf``; returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.pdf"]  # a stem may hold a dot: midtrain.lr
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    return paths


def new_figure(width: float, height: float, ncols: int = 1):
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _once_per_configuration(df: pd.DataFrame) -> pd.DataFrame:
    """Drop the extra copies of arms without MSM that a spec sweep holds once per spec."""
    no_msm = df["midtrain"].astype(str) == "none"
    keys = [c for c in ("model", "arm", "aft", "aft_data", "aft_scale", "eval", "scorer", "generator", "judge", "seed",
                        *(c for c in config_columns(df) if c != "spec.digest")) if c in df]
    return pd.concat([df[~no_msm], df[no_msm].drop_duplicates(subset=keys)], ignore_index=True)


def arm_label(row: pd.Series, with_spec: bool) -> str:
    """``MSM(affordability)+AFT``, ``AFT only (no_cot)``, ``baseline``: an arm as a reader names it."""
    arm, aft = str(row["arm"]), str(row.get("aft", ""))
    name = ARM_NAMES.get(arm, arm)
    if with_spec and row.get("midtrain") not in (None, "none") and pd.notna(row.get("midtrain")):
        value = row.get("target/value")
        name = name.replace("MSM", f"MSM({value if isinstance(value, str) else row['spec']})")
    if arm in ("aft_only", "msm_aft") and aft not in ("", "cot", "nan", "None"):
        name += f" ({aft})"
    return name


def labelled(data: pd.DataFrame, with_spec: bool, along: str | None = None) -> pd.DataFrame:
    """``data`` with a ``label`` column: the arm as a reader names it, plus `` @<AFT rows>`` where one label
    would otherwise cover several AFT scales and `` [<field>=<value>]`` for each config field that would
    (a bar or a line is always one configuration). ``along``: the column a curve runs along, never in a label."""
    labels = data.apply(arm_label, axis=1, with_spec=with_spec)
    for col in ("aft_data", "scorer"):  # e.g. the two controls, both "AFT only"
        if col in data and (data.groupby(labels)[col].transform(lambda s: s.nunique()) > 1).any():
            labels = labels + data[col].map(lambda v: "" if pd.isna(v) else f" [{v}]")
    if along != "aft_scale":
        scales = data.groupby(labels)["aft_scale"].transform(lambda s: s.nunique())
        at = data["aft_scale"].map(lambda s: "" if pd.isna(s) else f" @{int(s)}")
        labels = labels.where(scales <= 1, labels + at)
    fields = [f for f in varying_fields(data) if f != along]
    return data.assign(label=labels + field_suffix(data.assign(_label=labels), ["_label"], fields))


def _label_order(labels) -> list[str]:
    """Arm labels in the paper's reading order (controls first), variants of one arm together."""
    rank = {n: i for i, n in enumerate(ARM_NAMES.values())}

    def key(label: str):
        arm = re.sub(r"\(.*?\)", "", re.split(r" \(| @| \[", label)[0])
        return rank.get(arm, len(rank)), _natural(label)

    return sorted(set(labels), key=key)


_NUMBER = re.compile(r"(\d+(?:\.\d+)?(?:e-?\d+)?)")


def _natural(text: str) -> list:
    """A sort key that reads numbers as numbers: ``@5000`` after ``@1250``, ``lr=5e-05`` before ``lr=0.0001``."""
    return [(0, float(t), "") if _NUMBER.fullmatch(t) else (1, 0.0, t) for t in _NUMBER.split(text) if t]


def _with_counts(ax, data: pd.DataFrame, hue: str) -> None:
    """Legend entries with the number of seeds behind each."""
    handles, labels = ax.get_legend_handles_labels()
    seeds = data.groupby(hue)["seed"].nunique() if "seed" in data else {}
    labels = [f"{lab} (n={seeds[lab]} seeds)" if lab in seeds else lab for lab in labels]
    ax.legend(handles, labels, fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _base_line(ax, data: pd.DataFrame, metric: str) -> None:
    base = f"base/{metric}"
    if base in data and data[base].notna().any():
        ax.axhline(float(pd.to_numeric(data[base]).mean()), color="grey", linestyle="--", label="untrained model")


def value_generalization(df: pd.DataFrame, out_stem: Path, values=("affordability", "america")) -> list[Path]:
    """Figure 2: the rate of value-aligned choices per arm, overall and in every held-out domain."""
    data = _once_per_configuration(df)
    values = [v for v in values if f"{v}/rate" in data]
    if not values:
        raise MsmError("figure 2 needs a cheese eval (affordability/rate or america/rate)")
    data = labelled(data, with_spec=data["spec"].nunique() > 1)
    fig, axes = new_figure(7 * len(values), 4.5, ncols=len(values))
    for ax, value in zip(axes, values):
        domains = sorted({c.split("/")[1] for c in data.columns
                          if c.startswith(f"{value}/") and c.endswith("/rate") and c.count("/") == 2})
        long = pd.concat([data.assign(domain=d, rate=pd.to_numeric(data[f"{value}/{d}/rate" if d != "all" else f"{value}/rate"]))
                          for d in ["all", *domains]], ignore_index=True).dropna(subset=["rate"])
        order = _label_order(long["label"])
        sns.barplot(data=long, x="domain", y="rate", hue="label", hue_order=order, errorbar="se", capsize=0.1, ax=ax)
        _base_line(ax, data, f"{value}/rate")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{value}: value-aligned choices\nin held-out domains")
        ax.set_xlabel("held-out domain (all = every item)")
        ax.set_ylabel("value-aligned choices\n(mean \u00b1 1 SEM over seeds)")
        ax.tick_params(axis="x", rotation=45)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
        _with_counts(ax, long, "label")
    return save_figure(fig, out_stem)


def _headline(df: pd.DataFrame) -> str:
    for metric in ("misalignment/rate", "harmful/rate", "harmful_evidence/rate"):
        if metric in df and df[metric].notna().any():
            return metric
    raise MsmError("figures 3-5 need an agentic eval (misalignment/rate or harmful_evidence/rate)")


METRIC_NAMES = {"misalignment/rate": "misalignment rate (judge: decided to act harmfully)",
                "harmful/rate": "harmful rate (judge verdict and evidence)",
                "harmful_evidence/rate": "harmful-evidence rate (rule-based, no LLM judge)",
                "policy_misuse/rate": "policy-misuse rate (of scratchpads)"}


def misalignment_by_arm(df: pd.DataFrame, out_stem: Path) -> list[Path]:
    """Figure 3: agentic misalignment per arm (one panel per spec and model), the untrained model dashed."""
    metric = _headline(df)
    data = labelled(df[df[metric].notna()], with_spec=False)  # each panel is one spec: its own baseline in it
    data = data.assign(panel=data["spec"].astype(str) + " / " + data["model"].astype(str))
    panels = sorted(data["panel"].unique())
    width = 2.5 + 0.9 * data.groupby("panel")["label"].nunique().max()
    fig, axes = new_figure(2.0 + width * len(panels), 4.8, ncols=len(panels))
    for ax, panel in zip(axes, panels):
        part = data[data["panel"] == panel].assign(rate=lambda d: pd.to_numeric(d[metric]))
        order = _label_order(part["label"])
        sns.barplot(data=part, x="label", y="rate", order=order, hue="label", hue_order=order, errorbar="se",
                    capsize=0.15, ax=ax, legend=True)
        sns.stripplot(data=part, x="label", y="rate", order=order, color="black", size=3, ax=ax)
        _base_line(ax, part, metric)
        ax.set_ylim(0, 1.02)
        ax.set_title(panel)
        ax.set_xlabel("")
        ax.set_ylabel(METRIC_NAMES.get(metric, metric) + "\nmean \u00b1 1 SEM over seeds")
        ax.tick_params(axis="x", rotation=45)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
        _with_counts(ax, part, "label")
    fig.suptitle("Agentic misalignment by arm (mean over conditions)")
    return save_figure(fig, out_stem)


def misalignment_by_aft_scale(df: pd.DataFrame, out_stem: Path) -> list[Path]:
    """Figure 4: misalignment against the number of AFT samples, with and without MSM, one panel per spec and
    model: the AFT-sample case of :func:`knob_curve`."""
    metric = _headline(df)
    if df.loc[df[metric].notna() & df["arm"].isin(["aft_only", "msm_aft"]), "aft_scale"].dropna().empty:
        raise MsmError("figure 4 needs AFT arms at one or more AFT scales")
    return knob_curve(df, metric, "aft_scale", out_stem, title="Misalignment against AFT data, with and without MSM")


# ---- curves over a numeric knob ---------------------------------------------------------------------------

KNOB_NAMES = {"aft_scale": "AFT samples", "midtrain.max_tokens": "MSM tokens (midtrain.max_tokens)",
              "midtrain.max_documents": "MSM documents (midtrain.max_documents)"}
LOG_SPAN = 10  # a knob whose values span this factor or more is drawn on a log axis


def numeric_knobs(df: pd.DataFrame) -> list[str]:
    """The columns a sweep varies over numbers (two or more values): the AFT size and every varying config
    field whose values are numbers (learning rates, LoRA ranks, doses, temperatures ...), not switches."""
    out = []
    for col in ("aft_scale", *varying_fields(df)):
        values = df[col].dropna() if col in df else pd.Series(dtype=object)
        if values.empty or any(isinstance(v, (bool, str)) for v in values):
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().all() and numbers.nunique() >= 2:
            out.append(col)
    return out


def curve_name(knob: str, metric: str) -> str:
    """File stem of a curve: ``curve-midtrain.lr-affordability-rate``."""
    return f"curve-{knob}-{metric.replace('/', '-')}"


LEVEL_STYLES = [(":", "black"), ("-.", "tab:brown"), ((0, (1, 4)), "tab:purple"), ((0, (5, 2, 1, 2, 1, 2)), "tab:olive")]
"""Line style and colour of each arm drawn as a level across a curve (baseline, AFT only, ...), in turn."""


def _seed_counts(ax, line: pd.DataFrame) -> str:
    """A curve's seeds for its legend: ``n=4 seeds`` when every point has the same number, else the range, and
    each point labelled with its own ``n`` (a dose run at one seed beside one run at four is not the same point)."""
    per_point = line.groupby("x")["seed"].nunique()
    if per_point.min() == per_point.max():
        return f"n={per_point.min()} seeds"
    means = line.groupby("x")["rate"].mean()
    for x, n in per_point.items():
        ax.annotate(f"n={n}", (x, means[x]), textcoords="offset points", xytext=(0, 6), ha="center",
                    fontsize="x-small")
    return f"n={per_point.min()}-{per_point.max()} seeds a point"


def knob_curve(df: pd.DataFrame, metric: str, knob: str, out_stem: Path, title: str | None = None) -> list[Path]:
    """``metric`` against a numeric ``knob``: a line per arm (and per configuration the other varying fields
    make), the mean over seeds with a band of +-1 SEM, n (seeds) in the legend (and at each point, where the
    points differ), a log axis when the knob's values span 10x or more, the untrained model as a dashed line.
    An arm that does not have the knob (AFT only has no MSM dose, a baseline no AFT size) is a level across
    the plot (dotted, dash-dotted, ... in turn), with its own SEM band: the level every point is read against.
    One panel per spec and model. ``metric`` is a rate (0 to 1 on the axis) or any other per-job number
    (``X/p_aligned``)."""
    data = df[df[metric].notna()]
    if data.empty or knob not in data or data[knob].dropna().empty:
        raise MsmError(f"cannot draw {metric} against {knob}: no job has both")
    data = labelled(data, with_spec=data["spec"].nunique() > 1, along=knob)
    data = data.assign(rate=pd.to_numeric(data[metric]), x=pd.to_numeric(data[knob]),
                       panel=data["spec"].astype(str) + " / " + data["model"].astype(str))
    panels = sorted(data.loc[data["x"].notna(), "panel"].unique())
    fig, axes = new_figure(3.0 + 5.0 * len(panels), 4.5, ncols=len(panels))
    xs = sorted(data["x"].dropna().unique())
    log = xs[0] > 0 and xs[-1] / xs[0] >= LOG_SPAN
    for ax, panel in zip(axes, panels):
        part = data[data["panel"] == panel]
        on, off = part[part["x"].notna()], part[part["x"].isna()]
        order = _label_order(on["label"])
        sns.lineplot(data=on, x="x", y="rate", hue="label", hue_order=order, errorbar="se", err_style="band",
                     marker="o", ax=ax)
        handles, labels = ax.get_legend_handles_labels()
        names = [f"{lab} ({_seed_counts(ax, on[on['label'] == lab])})" for lab in labels]
        levels = off.groupby("label", sort=False)  # the arms without the knob: a level across the plot each
        for (lab, rows), (style, colour) in zip(levels, itertools.cycle(LEVEL_STYLES)):
            mean, spread = rows["rate"].mean(), rows["rate"].sem() if len(rows) > 1 else 0.0
            line = ax.axhline(mean, linestyle=style, color=colour)
            ax.axhspan(mean - spread, mean + spread, color=colour, alpha=0.08)
            handles.append(line)
            names.append(f"{lab}, no {knob} (n={rows['seed'].nunique()} seeds)")
        base = f"base/{metric}"
        if base in part and part[base].notna().any():
            handles.append(ax.axhline(float(pd.to_numeric(part[base]).mean()), color="grey", linestyle="--"))
            names.append("untrained model")
        ax.legend(handles, names, fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        if log:
            ax.set_xscale("log")
        ax.set_xticks(xs, [f"{x:,g}" for x in xs])
        ax.minorticks_off()
        if metric.endswith("/rate"):
            ax.set_ylim(0, 1.02)
        ax.set_xlabel(KNOB_NAMES.get(knob, knob) + (" (log scale)" if log else ""))
        ax.set_ylabel(METRIC_NAMES.get(metric, metric) + "\nmean \u00b1 1 SEM over seeds")
        ax.set_title(panel)
    fig.suptitle(title or f"{metric} against {KNOB_NAMES.get(knob, knob)}")
    return save_figure(fig, out_stem)


def spec_comparison(df: pd.DataFrame, out_stem: Path) -> list[Path]:
    """Figure 5: MSM+AFT per spec on misalignment, and the policy-misuse rate beside it when judged."""
    metric = _headline(df)
    data = labelled(df[df["arm"] == "msm_aft"], with_spec=False)  # one bar per spec and AFT configuration
    metrics = [metric] + [m for m in ("policy_misuse/rate",) if m in data and data[m].notna().any()]
    fig, axes = new_figure(5 * len(metrics) + 2, 4.5, ncols=len(metrics))
    for ax, m in zip(axes, metrics):
        part = data[data[m].notna()].assign(rate=lambda d: pd.to_numeric(d[m]))
        order, hues = sorted(part["spec"].astype(str).unique()), _label_order(part["label"])
        sns.barplot(data=part, x="spec", y="rate", order=order, hue="label", hue_order=hues, errorbar="se",
                    capsize=0.15, ax=ax)
        sns.stripplot(data=part, x="spec", y="rate", order=order, hue="label", hue_order=hues, dodge=True,
                      palette="dark:black", size=3, ax=ax, legend=False)
        _base_line(ax, part, m)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("Model Spec (MSM+AFT)")
        ax.set_ylabel(METRIC_NAMES.get(m, m) + "\nmean \u00b1 1 SEM over seeds")
        ax.set_title(METRIC_NAMES.get(m, m).split(" (")[0])
        _with_counts(ax, part, "label")
    fig.suptitle("Which spec generalizes best")
    return save_figure(fig, out_stem)


ACTION_PARTS = (("harmful action's tool", "#c0392b"), ("another tool", "#e69f00"), ("no tool call", "#bbbbbb"))


def actions_by_arm(df: pd.DataFrame, out_stem: Path) -> list[Path]:
    """What the model did, beside what the judge said: per arm, the share of transcripts that used the harmful
    action's tool, that made other tool calls only, and that made none (means over conditions, then over seeds;
    one panel per spec and model). A falling misalignment rate with a falling action rate may be a model that
    stopped acting, not one with better values."""
    need = ("action/rate", "harmful_action_tool/rate")
    if any(m not in df or df[m].isna().all() for m in need):
        raise MsmError("the actions figure needs an agentic eval (action/rate, harmful_action_tool/rate)")
    data = labelled(df[df["action/rate"].notna()], with_spec=False)
    data = data.assign(panel=data["spec"].astype(str) + " / " + data["model"].astype(str))
    panels = sorted(data["panel"].unique())
    fig, axes = new_figure(2.5 + 5.5 * len(panels), 1.5 + 0.45 * data.groupby("panel")["label"].nunique().max(),
                            ncols=len(panels))
    for ax, panel in zip(axes, panels):
        part = data[data["panel"] == panel]
        means = part.groupby("label")[list(need)].agg(lambda v: pd.to_numeric(v).mean())
        seeds = part.groupby("label")["seed"].nunique()
        order = _label_order(means.index)[::-1]
        harmful, acted = means.loc[order, need[1]].to_numpy(), means.loc[order, need[0]].to_numpy()
        left = 0
        for (name, color), width in zip(ACTION_PARTS, (harmful, acted - harmful, 1 - acted)):
            ax.barh([f"{lab} (n={seeds[lab]} seeds)" for lab in order], width, left=left, color=color, label=name)
            left = left + width
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of transcripts (mean over conditions and seeds)")
        ax.set_title(panel)
    axes[-1].legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle("What the model did: the harmful action's tool, another tool, or no tool call")
    return save_figure(fig, out_stem)


PAPER_FIGURES = {"fig2_value_generalization": value_generalization, "fig3_misalignment_by_arm": misalignment_by_arm,
                 "fig4_misalignment_by_aft_scale": misalignment_by_aft_scale, "fig5_spec_comparison": spec_comparison,
                 "actions_by_arm": actions_by_arm}
REPORT_FIGURES = {"cheese": ["fig2_value_generalization"],
                  "agentic": ["fig3_misalignment_by_arm", "actions_by_arm"],
                  "scaling": ["fig4_misalignment_by_aft_scale", "fig3_misalignment_by_arm", "actions_by_arm"],
                  "spec_science": ["fig5_spec_comparison", "fig3_misalignment_by_arm", "actions_by_arm"],
                  "controls": ["fig2_value_generalization"]}


def paper_figures(df: pd.DataFrame, out_dir: Path, names) -> list[Path]:
    """Draw the named figures of :data:`PAPER_FIGURES` into ``out_dir``."""
    return [p for name in names for p in PAPER_FIGURES[name](df, Path(out_dir) / name)]
