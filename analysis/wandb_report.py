"""A W&B report of a sweep, built from code with wandb-workspaces: one section per figure of its report.

Each section is a panel grid over the sweep's runs (its W&B group), grouped by spec, arm and AFT variant and
by every config field the sweep varies (its runs' config holds them),
with one bar chart per metric: the mean over seeds with standard-error bars, the same numbers as the
printed report and the PNG figures. Every job also logs its graded samples as a W&B Table (``samples``:
the prompt or condition, the response, the judge's verdict and reasoning, the evidence, the policy-misuse
labels), so transcripts are read beside the numbers.

Offline (the default, and the only mode CI can run) it writes the report's definition, as
wandb-workspaces serializes it, to ``wandb_report.json`` and says what it would create; publishing
(``save=True``) needs a W&B login and prints the report's URL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from msm.errors import MsmError

from .figures import METRIC_NAMES, REPORT_FIGURES
from .reports import REPORTS, agentic_metrics, cheese_metrics
from .results import varying_fields

REPORT_FILE = "wandb_report.json"
GROUP_BY = ["summary.spec", "summary.arm", "summary.aft", "summary.aft_data"]
FIGURE_TITLES = {"fig2_value_generalization": "Figure 2: value generalization in held-out domains",
                 "fig3_misalignment_by_arm": "Figure 3: agentic misalignment by arm",
                 "fig4_misalignment_by_aft_scale": "Figure 4: misalignment against AFT samples",
                 "fig5_spec_comparison": "Figure 5: spec comparison and policy misuse",
                 "actions_by_arm": "What the model did: tool calls and the harmful action's tool"}


def _project(jobs: pd.DataFrame) -> tuple[str | None, str, str]:
    """(entity, project, group) of the sweep's runs, from a job's composed config and folder."""
    for job_dir in jobs["job_dir"].dropna().astype(str):
        config = Path(job_dir) / ".hydra" / "config.yaml"
        if config.is_file():
            logger = (yaml.safe_load(config.read_text()) or {}).get("logger") or {}
            group = logger.get("group") or Path(job_dir).parent.name
            return logger.get("entity"), logger.get("project") or "msm", group
    raise MsmError("cannot tell the sweep's W&B project: no job folder holds .hydra/config.yaml")


def _figure_metrics(jobs: pd.DataFrame, figure: str) -> list[str]:
    if figure == "actions_by_arm":
        return [m for m in ("action/rate", "harmful_action_tool/rate", "misalignment_in_action/rate") if m in jobs]
    if figure == "fig2_value_generalization":
        return [m for m in cheese_metrics(jobs) if m.endswith("/rate")]
    metrics = agentic_metrics(jobs)
    return metrics[:1] + (["policy_misuse/rate"] if figure == "fig5_spec_comparison" and "policy_misuse/rate" in metrics
                          else [])


def build(jobs: pd.DataFrame, report_name: str):
    """The ``wandb_workspaces`` Report object for a sweep's runs (constructing it validates every field)."""
    import wandb_workspaces.reports.v2 as wr

    entity, project, group = _project(jobs)
    fields = varying_fields(jobs)  # every knob the sweep varies splits the bars too (runs log their whole config)
    blocks = [wr.H1(f"msm sweep {group}: {REPORTS[report_name].title}"),
              wr.P(f"{len(jobs)} finished jobs. Bars are means over training seeds with standard-error bars; "
                   "the tables and statistics are in report-<name>.csv beside the sweep (python -m analysis). "
                   "Each run's `samples` table holds its graded transcripts.")]
    for figure in REPORT_FIGURES[report_name]:
        metrics = _figure_metrics(jobs, figure)
        if not metrics:
            continue
        runset = wr.Runset(entity=entity or "", project=project, name=f"sweep {group}", filters=f"Group = '{group}'",
                           groupby=GROUP_BY + (["summary.aft_scale"] if figure == "fig4_misalignment_by_aft_scale" else [])
                           + [f"config.{field}" for field in fields])
        panels = [wr.BarPlot(title=METRIC_NAMES.get(m, m), metrics=[m], groupby_aggfunc="mean",
                             groupby_rangefunc="stderr") for m in metrics]
        blocks += [wr.H2(FIGURE_TITLES[figure]), wr.PanelGrid(runsets=[runset], panels=panels)]
    return wr.Report(project=project, entity=entity or "", title=f"msm {report_name}: sweep {group}",
                     description=REPORTS[report_name].title, blocks=blocks)


def definition(report) -> dict:
    """The report as wandb-workspaces serializes it (its own pydantic schema), as plain JSON values."""
    import wandb_workspaces.reports.v2 as wr
    from pydantic import TypeAdapter

    return json.loads(TypeAdapter(wr.Report).dump_json(report))


def build_report(jobs: pd.DataFrame, report_name: str, out_dir: Path, save: bool = False) -> str:
    """Write the report's definition to ``out_dir/wandb_report.json``; with ``save``, publish it too.
    Returns what was done, for the console."""
    try:
        report = build(jobs, report_name)
    except ImportError as err:
        raise MsmError(f"the W&B report needs wandb-workspaces: pip install wandb-workspaces ({err})") from None
    path = Path(out_dir) / REPORT_FILE
    path.write_text(json.dumps(definition(report), indent=1) + "\n")
    sections = [b.text for b in report.blocks if type(b).__name__ == "H2"]
    panels = sum(len(b.panels) for b in report.blocks if type(b).__name__ == "PanelGrid")
    if not save:
        return (f"W&B report (offline): wrote its definition to {path}; with a login, --save would create "
                f"'{report.title}' in {report.entity or '<your entity>'}/{report.project} with "
                f"{len(sections)} section(s) and {panels} panel(s)")
    try:
        report.save()
    except Exception as err:  # no login, no network, no such project: all mean "not published"
        raise MsmError(f"could not publish the W&B report ({type(err).__name__}: {err}); its definition is in {path}")
    return f"W&B report published: {report.url}"
