"""Turn a sweep folder into a DataFrame: one row per job, then a tidy long view of its rates.

Every job writes one flat ``metrics.json`` (identity fields + slash-named numbers), so a sweep is
just the set of those files under the Hydra multirun folder, however deeply the launcher nested
them. Loading is the only place that touches the file system; everything downstream (statistics,
figures, the CLI, the notebook) works on the frame this module returns, so it can be tested on
frames built by hand.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pandas as pd

from msm.config import Arm
from msm.errors import MsmError

log = logging.getLogger(__name__)

#: Fields that say *which* cell of the experiment a job is; everything else is a metric.
IDENTITY = ("spec", "model", "arm", "midtrain", "aft", "aft_scale", "seed", "eval", "job_dir")
#: The paper's arms in the order they are read: controls first, the full method last (msm.config.Arm).
ARMS = tuple(Arm.values())

METRICS_FILE = "metrics.json"


def _natural_key(path: Path) -> list:
    """Sort job folders 0, 1, 2, ..., 10 rather than 0, 1, 10, 2 (Hydra numbers them)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.as_posix())]


def _job_folders(root: Path) -> set[Path]:
    """Folders that look like Hydra jobs: they hold ``.hydra/``, or are numbered children of root.

    Used only to report jobs that crashed before writing metrics.json; loading itself relies on
    the metrics files alone.
    """
    jobs = {p.parent for p in root.rglob(".hydra") if p.is_dir() and p.parent != root}
    jobs |= {p for p in root.iterdir() if p.is_dir() and p.name.isdigit()}
    return jobs


def _read_record(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise MsmError(f"{path}: unreadable metrics file ({err})") from err
    if not isinstance(record, dict):
        raise MsmError(f"{path}: expected one JSON object, got {type(record).__name__}")
    record.setdefault("job_dir", str(path.parent))
    return record


def load_sweep(path) -> pd.DataFrame:
    """Load every ``metrics.json`` under ``path`` into one frame, one row per finished job.

    Job folders without a metrics file (crashed or still running jobs) are reported as a warning
    rather than an error, so a partly failed sweep can still be looked at. Every identity column is
    present even if no job wrote it, so grouping code never has to check. ``aft_scale`` and ``seed``
    become nullable integers: arms without AFT have no scale, and that must print as <NA>, not 1250.0.
    """
    root = Path(path)
    if not root.is_dir():
        raise MsmError(f"{root}: not a folder (expected a Hydra multirun sweep folder)")
    files = sorted(root.rglob(METRICS_FILE), key=_natural_key)
    finished = {d for f in files for d in f.parents}
    missing = sorted(_job_folders(root) - finished, key=_natural_key)
    for job in missing:
        log.warning("%s: no %s (job crashed or has not finished); skipped", job, METRICS_FILE)
    if not files:
        raise MsmError(f"{root}: no {METRICS_FILE} found under this folder; is it a finished sweep?")

    df = pd.DataFrame([_read_record(f) for f in files])
    for col in IDENTITY:
        if col not in df.columns:
            df[col] = pd.NA
    for col in ("aft_scale", "seed"):
        df[col] = _as_int(df[col])
    metrics = [c for c in df.columns if c not in IDENTITY]
    return df[list(IDENTITY) + metrics].reset_index(drop=True)


def _as_int(col: pd.Series) -> pd.Series:
    """Nullable Int64 when every present value is a whole number; otherwise leave it alone."""
    try:
        return pd.to_numeric(col).astype("Int64")
    except (TypeError, ValueError):
        return col


def rate_columns(df: pd.DataFrame) -> list[str]:
    """The rate metrics (columns ending in ``/rate``), in the frame's column order."""
    return [c for c in df.columns if isinstance(c, str) and c.endswith("/rate")]


def headline_metrics(df: pd.DataFrame) -> list[str]:
    """Top-level rates (``X/rate``), each followed by its ``base/X/rate`` when the sweep has one.

    Per-domain breakdowns (``X/art/rate``) are left out: they are for digging, not for the table.
    """
    rates = rate_columns(df)
    chosen = []
    for metric in rates:
        if metric.count("/") == 1:
            chosen.append(metric)
            if f"base/{metric}" in rates:
                chosen.append(f"base/{metric}")
    return chosen


def count_column(metric: str) -> str:
    """``X/rate`` -> ``X/n``: the number of graded items behind a rate."""
    return metric[: -len("rate")] + "n" if metric.endswith("/rate") else metric + "/n"


def to_long(df: pd.DataFrame, metrics=None) -> pd.DataFrame:
    """Tidy long frame: identity fields + ``metric`` + ``value`` + ``n`` (items behind the value).

    Defaults to the rate metrics, because rates are what the paper compares across arms; their
    counts ride along as ``n`` instead of being metrics of their own. Rows whose value is missing
    (a job that did not run that eval) are dropped.
    """
    metrics = rate_columns(df) if metrics is None else list(metrics)
    unknown = [m for m in metrics if m not in df.columns]
    if unknown:
        raise MsmError(f"unknown metric(s) {unknown}; available rates: {rate_columns(df)}")
    ids = [c for c in IDENTITY if c in df.columns]
    parts = []
    for metric in metrics:
        part = df[ids].copy()
        part["metric"] = metric
        part["value"] = pd.to_numeric(df[metric], errors="coerce").astype(float)
        n_col = count_column(metric)
        part["n"] = pd.to_numeric(df[n_col], errors="coerce").astype(float) if n_col in df else float("nan")
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=ids + ["metric", "value", "n"])
    long = pd.concat(parts, ignore_index=True)
    return long[long["value"].notna()].reset_index(drop=True)
