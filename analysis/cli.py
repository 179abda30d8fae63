"""``python -m analysis <sweep folders...> [--report R] [--by COLS] [--metric M] [--wandb-report [--save]]``

A finished sweep at a glance, then the paper's comparisons for its experiment:

1. the jobs that produced no metrics, each with its folder and why (failed, still running, stopped early);
2. per metric and group (every label but the seed and every config field the jobs differ in, unless
   ``--by``): mean ± SEM over seeds, the pooled counts k/n with a Wilson interval, and the valid rate
   (items the judge could grade);
3. the report (``--report cheese|agentic|scaling|spec_science``; by default the one the sweep's
   experiment is for): every comparison, within each level of the fields the sweep varies, with its
   difference, bootstrap CI, Welch's t-test, the exact permutation test, Fisher's exact test on pooled
   counts, and Benjamini-Hochberg q-values over the whole report.

Numbers are printed to 6 decimals (p-values to 6 significant digits) and written in full to CSV files
beside the figures: ``summary.csv``, ``report-<name>.csv``, ``problems.csv`` and ``figures/`` (one bar
chart per headline rate, a curve of each against every numeric knob the sweep varies, plus the paper's
figures for the report, PNG and PDF) in the first sweep
folder, or ``--out``. ``--wandb-report`` also builds the W&B report (offline: its definition as JSON;
with ``--save`` and a login: published, and its URL printed). Problems the user can fix (no results,
an unknown metric or column, a grouping that would merge configurations) exit 1 with one message.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

import pandas as pd

from msm.errors import MsmError

from .agreement import format_agreement, judge_agreement
from .figures import REPORT_FIGURES, bar_by_arm, curve_name, figure_name, knob_curve, numeric_knobs, paper_figures
from .harnesses import format_harnesses, harness_figure, harness_table
from .reports import REPORTS, pick_report, run_report
from .results import config_columns, group_columns, headline_metrics, load
from .stats import persona_spread, retention_summary, summarize


def num(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6f}"


def pval(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6g}"


def _cell(v) -> str:
    """A context value as text: ``-`` when missing, a whole number without ``.0`` (1250, not 1250.0)."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "-"
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def format_cell(mean: float, sem: float, n_seeds: int) -> str:
    """``0.512000 ± 0.021000 (n=4)``; the SEM is left out when there is a single seed."""
    spread = f" \u00b1 {sem:.6f}" if not math.isnan(sem) else ""
    return f"{mean:.6f}{spread} (n={int(n_seeds)})"


def _counts(k: float, n: float, lo: float, hi: float) -> str:
    if math.isnan(n):
        return "-"
    return f"{k:g}/{n:g} [{num(lo)}, {num(hi)}]"


def format_table(summary: pd.DataFrame, by: list[str], constant_fields: int = 0) -> str:
    """One block per metric: the grouping columns that vary, ``mean ± SEM (n seeds)``, pooled counts, valid rate.
    ``constant_fields``: how many config fields every job shares (said on the "all rows" line)."""
    shown = [c for c in by if c in ("spec", "arm") or summary[c].astype(str).nunique(dropna=False) > 1]
    fixed = {c: summary[c].iloc[0] for c in by if c not in shown}
    same = (f"; and {constant_fields} config field(s) equal in every job (each job's metrics.json, under config)"
            if constant_fields else "")
    head = ("all rows: " + ", ".join(f"{c}={v}" for c, v in fixed.items() if pd.notna(v)) + same + "\n") if fixed else ""
    blocks = []
    for metric, rows in summary.groupby("metric", sort=False):
        table = rows[shown].astype(object).where(rows[shown].notna(), "-")
        table["mean \u00b1 SEM (seeds)"] = [format_cell(m, s, k) for m, s, k in zip(rows["mean"], rows["sem"], rows["n_seeds"])]
        table["pooled k/n [Wilson 95%]"] = [_counts(*r) for r in rows[["k", "n", "wilson_lo", "wilson_hi"]].itertuples(index=False)]
        table["valid"] = [num(v) for v in rows["valid_rate"]]
        blocks.append(f"== {metric} ==\n" + table.to_string(index=False))
    return head + "\n\n".join(blocks)


def format_retention(retained: pd.DataFrame, by: list[str]) -> str:
    """One row per group, one column per retention number: ``mean ± SEM (n seeds)``."""
    shown = [c for c in by if c in ("spec", "arm") or retained[c].astype(str).nunique(dropna=False) > 1]
    wide = retained.assign(cell=[format_cell(m, s, k) for m, s, k in zip(retained["mean"], retained["sem"],
                                                                           retained["n_seeds"])])
    table = wide.pivot_table(index=shown, columns="metric", values="cell", aggfunc="first", sort=False)
    table = table[[m for m in dict.fromkeys(retained["metric"])]]
    table.columns = [_retention_label(m) for m in table.columns]
    legend = ("target: the spec's target rate; KL: mean KL(trained || base), nats/token; bpb: bits per byte on general text; capability: forced-"
              "choice accuracy; refusal: over-refusal by the rule-based detector; drift: off-target value rate, "
              "trained minus untrained; base: the untrained model")
    return f"== retention (eval.also=[retention]) ==\n{legend}\n" + table.to_string()


def _retention_label(metric: str) -> str:
    base = metric.startswith("base/")
    name = metric.removeprefix("base/").removeprefix("retention/")
    short = {"target/rate": "target", "kl_mean": "KL", "bits_per_byte_delta": "bpb change", "bits_per_byte": "bpb",
             "capability/accuracy": "capability", "over_refusal_rule_based/rate": "refusal",
             "over_refusal_judge/rate": "refusal (judge)"}
    label = short.get(name) or ("drift " + name.split("/")[1] if name.startswith("off_target/") else name)
    return f"base {label}" if base else label


def _pooled(r: dict) -> str:
    def side(s):
        k, n, f = r.get(f"k_{s}"), r.get(f"n_items_{s}"), r.get(f"failures_{s}")
        if n is None or pd.isna(n):
            return "-"
        return f"{k:g}/{n:g}" + (f" ({f:g})" if f is not None and pd.notna(f) else "")
    return f"{side('a')} | {side('b')}"


def format_report(report: pd.DataFrame, name: str) -> str:
    """One block per metric: each comparison with both sides, the difference and its tests."""
    context = [c for c in ("spec", "model", "eval", "scorer", "generator", "datagen", "judge", "experiment",
                           "aft_scale", *config_columns(report))
               if c in report and report[c].astype(str).nunique() > 1]
    blocks = [f"== report {name}: {REPORTS[name].title} =="]
    for metric, rows in report.groupby("metric", sort=False):
        table = rows[["comparison", *context]].map(_cell)
        table["a: mean \u00b1 SEM (seeds)"] = [format_cell(m, s, n) for m, s, n in rows[["mean_a", "sem_a", "n_seeds_a"]].values]
        table["b: mean \u00b1 SEM (seeds)"] = [format_cell(m, s, n) for m, s, n in rows[["mean_b", "sem_b", "n_seeds_b"]].values]
        table["diff [95% bootstrap CI]"] = [f"{num(d)} [{num(lo)}, {num(hi)}]" for d, lo, hi in rows[["diff", "boot_lo", "boot_hi"]].values]
        table["Welch p (BH q)"] = [f"{pval(p)} ({pval(q)})" for p, q in rows[["welch_p", "welch_q"]].values]
        table["permutation p (BH q)"] = [f"{pval(p)} ({pval(q)})" for p, q in rows[["perm_p", "perm_q"]].values]
        table["Fisher p"] = [pval(p) for p in rows["fisher_p"]]
        if "mde_80" in rows and rows["mde_80"].notna().any():  # what a null rules out (the dissociations)
            table["detectable at 80% power"] = [num(x) for x in rows["mde_80"]]
        if {"n_items_a", "n_items_b"} <= set(rows.columns) and rows["n_items_a"].notna().any():
            table["pooled k/n a | b (judge failures)"] = [_pooled(r) for r in rows.to_dict("records")]
        blocks.append(f"-- {metric} --\n" + table.to_string(index=False))
    return "\n".join(blocks)


def analyse(sweeps: list[Path | str], *, report: str | None = None, by: list[str] | None = None,
            metrics: list[str] | None = None, out: Path | None = None, figures: Path | None = None,
            echo=print) -> dict:
    """Everything the command does, as a function (the Hydra callback calls it when a sweep ends)."""
    loaded = load(sweeps)
    df = loaded.jobs
    out = Path(out or sweeps[0])
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if not loaded.problems.empty:
        for p in loaded.problems.itertuples():
            print(f"warning: {p.job_dir}: {p.status}: {p.reason}", file=sys.stderr)
        loaded.problems.to_csv(out / "problems.csv", index=False)
        written.append(out / "problems.csv")
    metrics = metrics or headline_metrics(df)
    if not metrics:
        raise MsmError(f"{', '.join(map(str, sweeps))}: no rate metrics (columns ending in /rate) in the results")
    by = group_columns(df, by)
    summary = summarize(df, metrics, by)
    constant = [c for c in config_columns(df) if df[c].astype(str).nunique() <= 1]
    echo(format_table(summary, by, len(constant)))
    summary.to_csv(out / "summary.csv", index=False)
    written.append(out / "summary.csv")
    retained = retention_summary(df, by)
    if not retained.empty:  # side effects beside the target: eval.also=[retention]
        echo("\n" + format_retention(retained, by))
        retained.to_csv(out / "retention.csv", index=False)
        written.append(out / "retention.csv")

    name = report or pick_report(df)
    try:
        table = run_report(df, name)
    except MsmError as err:
        if report:  # asked for by name: its failure is the user's to fix
            raise
        table = None
        echo(f"\n(no report: {err})")
    if table is not None:
        echo("\n" + format_report(table, name))
        table.to_csv(out / f"report-{name}.csv", index=False)
        written.append(out / f"report-{name}.csv")

    agree = judge_agreement(df)  # two or more judges on the same transcripts
    if not agree.empty:
        echo("\n" + format_agreement(agree))
        agree.to_csv(out / "agreement.csv", index=False)
        written.append(out / "agreement.csv")
    harnesses = harness_table(df, by)  # msm's agentic eval and inspect's task on the same models
    if not harnesses.empty:
        echo("\n" + format_harnesses(harnesses))
        harnesses.to_csv(out / "harnesses.csv", index=False)
        written.append(out / "harnesses.csv")
    spread = persona_spread(df, by)
    if not spread.empty:  # the agent's and company's names alone: the rate's spread across personas
        echo("\n== spread across personas (max - min of the per-persona rates; mean over seeds) ==\n"
             + spread.to_string(index=False))
        spread.to_csv(out / "personas.csv", index=False)
        written.append(out / "personas.csv")

    fig_dir = Path(figures or out / "figures")
    # base/ rates are the dashed line of their trained counterpart; plot them alone only if asked.
    plotted = [m for m in metrics if not (m.startswith("base/") and m[len("base/"):] in metrics)]
    written += [bar_by_arm(df, m, fig_dir / figure_name(m)) for m in plotted]
    if not harnesses.empty:
        written += harness_figure(harnesses, fig_dir / "harnesses")
    curves = [m for m in plotted if not m.startswith("base/")]
    curves += [p for m in curves if (p := m.removesuffix("/rate") + "/p_aligned") in df.columns]  # what rates threshold
    for knob in numeric_knobs(df):  # a numeric knob varies: each headline rate (and value probability) against it
        for m in curves:
            try:
                written += knob_curve(df, m, knob, fig_dir / curve_name(knob, m))
            except MsmError as err:
                echo(f"(no curve of {m} against {knob}: {err})")
    if table is not None:
        for fig in REPORT_FIGURES[name]:
            try:
                written += paper_figures(df, fig_dir, [fig])
            except MsmError as err:
                echo(f"(no {fig}: {err})")
    echo(f"\nwrote {len(written)} file(s): tables in {out}, figures in {fig_dir}")
    return {"jobs": df, "problems": loaded.problems, "summary": summary, "report": table, "report_name": name,
            "written": written}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Summarize sweeps and make the paper's comparisons: mean ± SEM over seeds, tests, figures.")
    parser.add_argument("sweeps", nargs="+", help="Hydra multirun folders, or wandb:<entity>/<project>")
    parser.add_argument("--report", choices=sorted(REPORTS), help="the comparisons to make (default: the experiment's)")
    parser.add_argument("--by", nargs="+", metavar="COL", help="group by these columns (default: every label "
                        "except seed, and every config field the jobs differ in)")
    parser.add_argument("--metric", nargs="+", action="extend", metavar="M",
                        help="rate column(s) to summarize (default: top-level rates and their base/)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where tables go (default: the first sweep folder)")
    parser.add_argument("--figures", type=Path, metavar="DIR", help="figure folder (default: <out>/figures)")
    parser.add_argument("--wandb-report", action="store_true", help="also build the W&B report of the sweep")
    parser.add_argument("--save", action="store_true", help="with --wandb-report: publish it (needs a W&B login)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        result = analyse(args.sweeps, report=args.report, by=args.by, metrics=args.metric, out=args.out,
                         figures=args.figures)
        if args.wandb_report:
            from .wandb_report import build_report

            print(build_report(result["jobs"], result["report_name"], Path(args.out or args.sweeps[0]),
                               save=args.save))
    except MsmError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
