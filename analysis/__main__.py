"""``python -m analysis <sweep> [--metric M ...] [--figures DIR]``: a finished sweep at a glance.

Prints mean +- SEM (n seeds) per spec and arm for each chosen rate, writes the same numbers to
``<sweep>/summary.csv`` and one bar chart per metric to ``<sweep>/figures/``. By default it reports
the headline rates (one ``/``, e.g. ``affordability/rate``) and the untrained model's
``base/`` counterparts, not every per-domain breakdown, which stays available via ``--metric``.
Problems the user can fix (no results, unknown metric) exit 1 with a one-line message.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

import pandas as pd

from msm.errors import MsmError

from .figures import bar_by_arm, figure_name
from .results import headline_metrics, load_sweep
from .stats import DEFAULT_BY, summarize


def format_cell(mean: float, sem: float, n_seeds: int) -> str:
    """``0.512 ± 0.021 (n=4)``; the SEM is left out when there is a single seed."""
    spread = f" \u00b1 {sem:.3f}" if not math.isnan(sem) else ""
    return f"{mean:.3f}{spread} (n={n_seeds})"


def format_table(summary: pd.DataFrame) -> str:
    """One block per metric: the grouping columns and a ``mean ± SEM (n seeds)`` column."""
    keys = [c for c in DEFAULT_BY if c in summary.columns]
    blocks = []
    for metric, rows in summary.groupby("metric", sort=False):
        table = rows[keys].astype(object).where(rows[keys].notna(), "-")
        table["mean \u00b1 SEM (seeds)"] = [
            format_cell(m, s, k) for m, s, k in zip(rows["mean"], rows["sem"], rows["n_seeds"])
        ]
        blocks.append(f"== {metric} ==\n" + table.to_string(index=False))
    return "\n\n".join(blocks)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Summarize a finished sweep: mean ± SEM over seeds per spec and arm, summary.csv, figures.",
    )
    parser.add_argument("sweep", type=Path, help="Hydra multirun folder of a sweep")
    parser.add_argument("--metric", nargs="+", action="extend", metavar="M",
                        help="rate column(s) to report (default: top-level rates and their base/)")
    parser.add_argument("--figures", type=Path, metavar="DIR", help="figure folder (default: <sweep>/figures)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        df = load_sweep(args.sweep)
        metrics = args.metric or headline_metrics(df)
        if not metrics:
            raise MsmError(f"{args.sweep}: no rate metrics (columns ending in /rate) in the results")
        summary = summarize(df, metrics)
        print(format_table(summary))
        summary.to_csv(args.sweep / "summary.csv", index=False)
        fig_dir = args.figures or args.sweep / "figures"
        # base/ rates are the dashed line of their trained counterpart; plot them alone only if asked.
        plotted = [m for m in metrics if not (m.startswith("base/") and m[len("base/"):] in metrics)]
        paths = [bar_by_arm(df, m, fig_dir / figure_name(m)) for m in plotted]
    except MsmError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"\nwrote {args.sweep / 'summary.csv'} and {len(paths)} figure(s) in {fig_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
