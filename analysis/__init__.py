"""Analysis of msm sweeps: results -> tidy DataFrame -> statistics over seeds -> figures.

The same small functions back the CLI (``python -m analysis <sweep>``) and ``analysis/notebook.ipynb``,
so a number in the paper's figure, the printed table and the notebook all come from one code path.
"""

from .figures import bar_by_arm, figure_name
from .results import ARMS, IDENTITY, count_column, headline_metrics, load_sweep, rate_columns, to_long
from .stats import DEFAULT_BY, compare, summarize

__all__ = [
    "ARMS",
    "DEFAULT_BY",
    "IDENTITY",
    "bar_by_arm",
    "compare",
    "count_column",
    "figure_name",
    "headline_metrics",
    "load_sweep",
    "rate_columns",
    "summarize",
    "to_long",
]
