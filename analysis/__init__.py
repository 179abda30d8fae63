"""Analysis of msm sweeps: results -> tidy DataFrame -> statistics over seeds -> reports and figures.

The same small functions back the CLI (``python -m analysis <sweep>``), the Hydra callback that runs
it when a sweep ends, and ``analysis/notebook.ipynb``, so a number in a figure, the printed report and
the notebook all come from one code path.
"""

from .figures import (
                      PAPER_FIGURES,
                      REPORT_FIGURES,
                      bar_by_arm,
                      curve_name,
                      figure_name,
                      knob_curve,
                      numeric_knobs,
                      paper_figures,
)
from .reports import REPORTS, pick_report, run_report
from .results import (
                      ARMS,
                      IDENTITY,
                      Sweep,
                      config_columns,
                      count_column,
                      group_columns,
                      headline_metrics,
                      load,
                      load_sweep,
                      rate_columns,
                      to_long,
                      varying_fields,
)
from .stats import benjamini_hochberg, compare, compare_values, diff_in_diff, summarize, wilson

__all__ = [
    "ARMS",
    "PAPER_FIGURES",
    "REPORTS",
    "REPORT_FIGURES",
    "IDENTITY",
    "Sweep",
    "bar_by_arm",
    "benjamini_hochberg",
    "compare",
    "compare_values",
    "config_columns",
    "curve_name",
    "count_column",
    "diff_in_diff",
    "figure_name",
    "group_columns",
    "headline_metrics",
    "knob_curve",
    "load",
    "load_sweep",
    "numeric_knobs",
    "paper_figures",
    "pick_report",
    "rate_columns",
    "run_report",
    "summarize",
    "to_long",
    "varying_fields",
    "wilson",
]
