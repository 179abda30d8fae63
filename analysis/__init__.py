"""Analysis of msm sweeps: results -> tidy DataFrame -> statistics over seeds -> reports and figures.

The same small functions back the CLI (``python -m analysis <sweep>``), the Hydra callback that runs
it when a sweep ends, and ``analysis/notebook.ipynb``, so a number in a figure, the printed report and
the notebook all come from one code path.
"""

from .figures import bar_by_arm, figure_name
from .results import (
                      ARMS,
                      IDENTITY,
                      Sweep,
                      count_column,
                      group_columns,
                      headline_metrics,
                      load,
                      load_sweep,
                      rate_columns,
                      to_long,
)
from .stats import benjamini_hochberg, compare, compare_values, diff_in_diff, summarize, wilson

__all__ = [
    "ARMS",
    "IDENTITY",
    "Sweep",
    "bar_by_arm",
    "benjamini_hochberg",
    "compare",
    "compare_values",
    "count_column",
    "diff_in_diff",
    "figure_name",
    "group_columns",
    "headline_metrics",
    "load",
    "load_sweep",
    "rate_columns",
    "summarize",
    "to_long",
    "wilson",
]
