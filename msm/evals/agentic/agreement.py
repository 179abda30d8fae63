"""How far two graders agree on the same items: two judges on the same transcripts, or a judge and hand labels.

Reproductions found the grader to be a confound of published misalignment rates; the only way to see it is
to grade identical transcripts twice. For yes/no verdicts of two graders A and B on the same items (an item
either grader could not grade is a failure, counted and left out), this reports

- percent agreement, and Cohen's kappa (agreement beyond what the two graders' own rates give by chance)
  with a 95% interval from its large-sample standard error (Fleiss, Cohen and Everitt 1969);
- each grader's yes-rate on the items both graded, and their paired difference;
- McNemar's exact test of "A and B say yes equally often": a two-sided binomial test on the discordant
  items (A yes / B no against A no / B yes), from ``scipy.stats``.

Kappa is undefined when chance agreement is 1 (both graders constant and equal): it is NaN then, never 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054


def agreement(a: Sequence[bool | None], b: Sequence[bool | None]) -> dict:
    """Every statistic of the module docstring for paired verdicts ``a[i]``, ``b[i]`` (None: a failure)."""
    if len(a) != len(b):
        raise ValueError(f"paired verdicts differ in length: {len(a)} vs {len(b)}")
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    n = len(pairs)
    yy = sum(1 for x, y in pairs if x and y)
    yn = sum(1 for x, y in pairs if x and not y)
    ny = sum(1 for x, y in pairs if not x and y)
    nn = n - yy - yn - ny
    out = {"n": n, "failures_a": sum(x is None for x in a), "failures_b": sum(y is None for y in b),
           "failures_either": len(a) - n, "yes_yes": yy, "yes_no": yn, "no_yes": ny, "no_no": nn}
    nan = math.nan
    if n == 0:
        return {**out, "agreement": nan, "kappa": nan, "kappa_lo": nan, "kappa_hi": nan, "rate_a": nan,
                "rate_b": nan, "diff": nan, "mcnemar_p": nan}
    po = (yy + nn) / n
    pa, pb = (yy + yn) / n, (yy + ny) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    kappa = se = nan
    if pe < 1:
        kappa = (po - pe) / (1 - pe)
        se = _kappa_se(n, [[yy / n, yn / n], [ny / n, nn / n]], kappa, pe)
    from scipy.stats import binomtest

    discordant = yn + ny
    p = binomtest(yn, discordant, 0.5).pvalue if discordant else 1.0
    return {**out, "agreement": po, "kappa": kappa, "kappa_lo": kappa - Z95 * se, "kappa_hi": kappa + Z95 * se,
            "rate_a": pa, "rate_b": pb, "diff": pa - pb, "mcnemar_p": float(p)}


def _kappa_se(n: int, p: list[list[float]], kappa: float, pe: float) -> float:
    """The large-sample standard error of kappa (Fleiss, Cohen and Everitt 1969) for a 2x2 table of proportions."""
    row = [p[0][0] + p[0][1], p[1][0] + p[1][1]]
    col = [p[0][0] + p[1][0], p[0][1] + p[1][1]]
    diag = sum(p[i][i] * (1 - (row[i] + col[i]) * (1 - kappa)) ** 2 for i in range(2))
    off = (1 - kappa) ** 2 * sum(p[i][j] * (col[i] + row[j]) ** 2 for i in range(2) for j in range(2) if i != j)
    rest = (kappa - pe * (1 - kappa)) ** 2
    value = (diag + off - rest) / (n * (1 - pe) ** 2)
    return math.sqrt(max(value, 0.0))
