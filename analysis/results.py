"""Sweeps -> DataFrames: one row per finished job, a tidy long view of its rates, and the jobs that failed.

Every job writes one flat ``metrics.json`` (identity fields + slash-named numbers) and a ``status.json``
(running, finished, failed and why), so a sweep is the set of job folders under its Hydra multirun
folder, however deeply a launcher nested them. Loading is the only place that touches the file system
(or the W&B API); everything downstream (statistics, reports, figures, the CLI, the notebook) works on
the frames returned here, so it can be tested on frames built by hand.

A job that produced no metrics is never dropped silently: :func:`load` returns it among ``problems``
with its folder and the reason (the error it failed with, "still running or killed", "stopped before
the eval").

Which configuration a job measured is its whole identity (msm/job.py): the labels of :data:`IDENTITY`
(spec, model, arm, ...) and every science-bearing config field, recorded under ``config`` in metrics.json
and loaded as one column each, named by its dotted path (``midtrain.lr``; metrics are named with slashes).
Jobs from before the record held it get it from their ``.hydra/config.yaml``. Results are grouped by the
labels and by every config field that differs between the loaded jobs (:func:`varying_fields`), so no two
configurations are ever averaged together; two jobs are one measurement only when their whole identity,
seed included, is equal, and then both folders are named in a warning.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from msm.config import Arm
from msm.errors import MsmError
from msm.evals.inspect_task import headline as inspect_scores
from msm.job import SPEC_DIGEST

log = logging.getLogger(__name__)

#: The labels that say *which* cell of the experiment a job is, as a reader names it; with the config fields
#: (:func:`config_columns`) they are its identity; everything else is a metric (or ``job_dir``).
IDENTITY = ("spec", "model", "midtrain", "aft", "aft_data", "arm", "aft_scale", "eval", "scorer", "generator",
            "datagen", "judge", "experiment", "seed")
#: Config fields that a label mirrors (besides the fields of the label's own group, ``model.*`` for ``model``).
MIRRORS = {"aft.data": "aft_data", "eval.scorer": "scorer", "aft_scale.rows": "aft_scale", SPEC_DIGEST: "spec"}
#: The paper's arms in the order they are read: controls first, the full method last (msm.config.Arm).
ARMS = tuple(Arm.values())
#: What a job record holds besides its identity and its metrics.
META = ("job_dir",)
METRICS_FILE = "metrics.json"
STATUS_FILE = "status.json"
WANDB_PREFIX = "wandb:"


@dataclass
class Sweep:
    """What :func:`load` found: ``jobs`` (one row per finished job) and ``problems`` (one row per job
    folder without metrics: ``job_dir``, ``status``, ``reason``)."""

    jobs: pd.DataFrame
    problems: pd.DataFrame


def _natural_key(path: Path) -> list:
    """Sort job folders 0, 1, 2, ..., 10 rather than 0, 1, 10, 2 (Hydra numbers them)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.as_posix())]


def _job_folders(root: Path) -> set[Path]:
    """Folders that are jobs: they hold ``.hydra/``, a status or a metrics file, or are numbered children."""
    jobs = {p.parent for p in root.rglob(".hydra") if p.is_dir() and p.parent != root}
    jobs |= {p.parent for name in (STATUS_FILE, METRICS_FILE) for p in root.rglob(name)}
    jobs |= {p for p in root.iterdir() if p.is_dir() and p.name.isdigit()}
    return jobs


def _read_json(path: Path, what: str) -> dict:
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise MsmError(f"{path}: unreadable {what} ({err})") from err
    if not isinstance(record, dict):
        raise MsmError(f"{path}: expected one JSON object, got {type(record).__name__}")
    return record


def _problem(job: Path) -> dict:
    """Why a job folder holds no metrics, from its status file (or its absence)."""
    status_path = job / STATUS_FILE
    if not status_path.is_file():
        return {"job_dir": str(job), "status": "incomplete",
                "reason": f"no {METRICS_FILE} and no {STATUS_FILE}: never started, or killed before it began"}
    status = _read_json(status_path, "status file")
    state = status.get("status", "unknown")
    if state in ("failed", "interrupted"):
        reason = status.get("error") or "failed without a message"
    elif state == "running":
        reason = f"no {METRICS_FILE}: still running, or killed or preempted (started {status.get('started', '?')})"
    elif status.get("preview"):
        reason = "a data preview: nothing was trained or evaluated"
    else:
        reason = f"stopped after stages={status.get('stages')}: no eval, so no metrics"
    return {"job_dir": str(job), "status": state, "reason": reason}


def _sweep_records(root: Path) -> tuple[list[dict], list[dict]]:
    if not root.is_dir():
        raise MsmError(f"{root}: not a folder (expected a Hydra multirun sweep folder)")
    records, problems = [], []
    for job in sorted(_job_folders(root), key=_natural_key):
        if (job / METRICS_FILE).is_file():
            record = _read_json(job / METRICS_FILE, "metrics file")
            record.setdefault("job_dir", str(job))
            if not isinstance(record.get("config"), dict):  # written before jobs recorded their configuration
                record.update(_legacy_identity(job, record))
            records.append(record)
        else:
            problems.append(_problem(job))
    return records, problems


def _legacy_identity(job: Path, record: dict) -> dict:
    """The ``config`` (and the ``datagen`` label) of a job recorded before metrics.json held them, rebuilt
    from its ``.hydra/config.yaml`` by the job's own identity function. Fields the schema has gained since
    take their defaults, keys it has lost are dropped, and ``auto`` choices are read off the record (its
    ``eval: auto:<kind>`` and ``aft_data``). Without a config file the job has its labels alone."""
    path = job / ".hydra" / "config.yaml"
    if not path.is_file():
        return {}
    from omegaconf import OmegaConf

    from msm.config import schema
    from msm.job import identity, stage_prefix, uses_generator
    from msm.specs import resolve_spec

    try:
        cfg = OmegaConf.merge(schema(), _known(OmegaConf.to_container(OmegaConf.load(path), resolve=False), schema()))
        eval_name = str(record.get("eval") or "")
        if cfg.eval.kind == "auto" and eval_name.startswith("auto:"):
            cfg.eval.kind = eval_name.removeprefix("auto:")
        if cfg.aft.data == "auto" and record.get("aft_data"):
            cfg.aft.data = record["aft_data"]
        try:
            spec = resolve_spec(cfg.spec.path)
        except (MsmError, OSError):
            spec = None  # moved since: the digest stays unknown (a file edited since gives its new digest)
        config = identity(cfg, spec, stage_prefix(cfg.stages))
    except Exception as err:  # an old or hand-edited file: the job keeps its labels, and says why
        log.warning("%s: cannot read its configuration (%s: %s); grouped by its labels only", path,
                    type(err).__name__, err)
        return {}
    config.pop("seed", None)
    return {"config": config, "datagen": record.get("datagen", cfg.datagen.name if uses_generator(cfg) else None)}


def _known(raw, schema) -> dict:
    """``raw`` without the keys ``schema`` does not have (fields removed since a job was written)."""
    from omegaconf import DictConfig

    if not isinstance(raw, dict) or not isinstance(schema, DictConfig):
        return raw
    return {k: _known(v, schema._get_node(k)) for k, v in raw.items() if k in schema.keys()}


def _wandb_records(path: str) -> list[dict]:
    """Finished runs of a W&B project (``entity/project``) through the public API, as job records.

    Each msm run's config holds the composed job config and its summary the metrics record, so a
    record is the summary's numbers plus the identity read back from the summary (it is logged there
    too). Needs a login (``WANDB_API_KEY``); offline sweeps are read from their folders instead.
    """
    import wandb

    try:
        runs = wandb.Api().runs(path, filters={"state": "finished"})
    except Exception as err:  # the API's errors are many and all mean "cannot read this project"
        raise MsmError(f"{WANDB_PREFIX}{path}: cannot read the W&B project ({type(err).__name__}: {err})") from None
    records = []
    for run in runs:
        summary = {k: v for k, v in dict(run.summary).items() if not k.startswith("_")}
        if isinstance(summary.get("config"), str):  # the job's configuration, logged as one JSON text
            summary["config"] = json.loads(summary["config"])
        records.append({**summary, "job_dir": f"{WANDB_PREFIX}{path}/{run.id}"})
    return records


def load(paths: str | Path | Sequence[str | Path]) -> Sweep:
    """Every job of one or more sweeps: folders, or ``wandb:<entity>/<project>`` for a W&B project.

    ``aft_scale`` becomes a number also for ``aft_scale=all`` (the pool size, from ``data/aft_pool_rows``,
    for records written before jobs recorded it); ``aft_scale`` and ``seed`` are nullable integers, so an
    arm without AFT prints as <NA>, not NaN or 1250.0.
    """
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    records, problems = [], []
    for p in paths:
        if str(p).startswith(WANDB_PREFIX):
            records += _wandb_records(str(p)[len(WANDB_PREFIX):])
        else:
            found, failed = _sweep_records(Path(p))
            records += found
            problems += failed
    if not records:
        where = ", ".join(map(str, paths))
        raise MsmError(f"{where}: no {METRICS_FILE} found under this folder; is it a finished sweep?"
                       + (f" ({len(problems)} job(s) without metrics, e.g. {problems[0]['reason']})" if problems else ""))
    records = [{**{k: v for k, v in r.items() if k != "config"}, **(r.get("config") or {})} for r in records]
    df = pd.DataFrame(records)
    for col in (*IDENTITY, *META):
        if col not in df.columns:
            df[col] = pd.NA
    if "data/aft_pool_rows" in df.columns:  # aft_scale=all recorded as null by older jobs: the whole pool
        trained = df["arm"].isin([Arm.aft_only.value, Arm.msm_aft.value]) & df["aft_scale"].isna()
        df.loc[trained, "aft_scale"] = df.loc[trained, "data/aft_pool_rows"]
    for col in ("aft_scale", "seed"):
        df[col] = _as_int(df[col])
    fields = config_columns(df)
    if fields:  # values as recorded (1250, not 1250.0); None for "not set", said or left out
        recorded = pd.DataFrame({c: pd.Series([r.get(c) for r in records], index=df.index, dtype=object)
                                 for c in fields})
        df = pd.concat([df.drop(columns=fields), recorded], axis=1)
    repeated = _repeats(df, [*IDENTITY, *fields])
    metrics = [c for c in df.columns if c not in IDENTITY and c not in META and c not in fields]
    jobs = df.loc[~repeated, [*IDENTITY, *fields, *META, *metrics]].reset_index(drop=True).copy()
    return Sweep(jobs, pd.DataFrame(problems, columns=["job_dir", "status", "reason"]))


def config_columns(df: pd.DataFrame) -> list[str]:
    """The configuration fields among the columns (dotted names: ``midtrain.lr``), sorted."""
    return sorted(c for c in df.columns if isinstance(c, str) and "." in c and "/" not in c)


def _repeats(df: pd.DataFrame, identity: list[str]) -> pd.Series:
    """Which rows repeat an earlier row's whole identity, seed included: one measurement (the same folder
    given twice, or an arm without AFT launched at every aft_scale of a scaling sweep, which the store built
    once). Each is counted once, and the folders are named in a warning."""
    keys = df[identity].astype(str).apply(tuple, axis=1)
    repeated = keys.duplicated()
    for key in keys[repeated].unique():
        folders = df.loc[keys == key, "job_dir"].astype(str).tolist()
        same = len(set(folders)) == 1
        log.warning("%s: %s; counted once", ", ".join(folders), "the same job folder loaded twice" if same else
                    "one measurement: the same configuration and seed (what their overrides differ in plays no part "
                    "in what they ran)")
    return repeated


def load_sweep(path) -> pd.DataFrame:
    """The finished jobs of a sweep (see :func:`load`); jobs without metrics are logged, one warning each."""
    sweep = load(path)
    for p in sweep.problems.itertuples():
        log.warning("%s: %s (%s); not in the results", p.job_dir, p.status, p.reason)
    return sweep.jobs


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
    """Top-level rates (``X/rate``, ``policy_misuse/rate``, an inspect task's ``inspect/<task>/<score>/rate``),
    each followed by its ``base/X/rate`` when the sweep has one. Per-domain and per-condition breakdowns (``X/art/rate``) are for digging, not for tables."""
    rates = rate_columns(df)
    chosen = []
    inspected = set(inspect_scores(rates))
    for metric in rates:
        if metric.count("/") == 1 or metric.removesuffix("/rate") in inspected:
            chosen.append(metric)
            if f"base/{metric}" in rates:
                chosen.append(f"base/{metric}")
    return chosen


def count_column(metric: str, count: str = "n") -> str:
    """``X/rate`` -> ``X/n`` (items behind a rate), ``X/k`` (events among them) or ``X/failures``."""
    return metric[: -len("rate")] + count if metric.endswith("/rate") else f"{metric}/{count}"


def to_long(df: pd.DataFrame, metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """Tidy long frame: one row per job x metric, with the identity fields, ``job_dir``, ``value`` and the
    counts behind it: ``n`` (valid items), ``k`` (events among them), ``failures`` (items left out of the
    denominator: unparsable or refused judge answers). ``k`` falls back to ``value x n`` when a job did
    not record it. Rows whose value is missing (a job that did not run that eval) are dropped.
    """
    metrics = rate_columns(df) if metrics is None else list(metrics)
    unknown = [m for m in metrics if m not in df.columns]
    if unknown:
        raise MsmError(f"unknown metric(s) {unknown}; available rates: {rate_columns(df)}")
    ids = [c for c in (*IDENTITY, *config_columns(df), "job_dir") if c in df.columns]
    nan = pd.Series(float("nan"), index=df.index)

    def counts(metric: str, count: str) -> pd.Series:
        col = count_column(metric, count)
        return pd.to_numeric(df[col], errors="coerce").astype(float) if col in df else nan

    parts = []
    for metric in metrics:
        part = df[ids].copy()
        part["metric"] = metric
        part["value"] = pd.to_numeric(df[metric], errors="coerce").astype(float)
        part["n"] = counts(metric, "n")
        part["k"] = counts(metric, "k").fillna(part["value"] * part["n"]) if metric.endswith("/rate") else nan
        part["failures"] = counts(metric, "failures")
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=[*ids, "metric", "value", "n", "k", "failures"])
    long = pd.concat(parts, ignore_index=True)
    return long[long["value"].notna()].reset_index(drop=True)


def _owners(field: str) -> list[str]:
    """The labels that may decide a config field: the label of its group (``model`` for ``model.arch.vocab_size``)
    and the label that mirrors it (``aft_data`` for ``aft.data``)."""
    return [label for label in (field.split(".")[0], MIRRORS.get(field)) if label in IDENTITY]


def varying_fields(df: pd.DataFrame) -> list[str]:
    """The config fields whose value differs between the jobs of ``df`` and that no label already tells apart.

    A field is left out when it varies in lockstep with a label of its own (``model=tiny,smollm2_135m`` makes
    ``model.source`` and a dozen other fields vary: ``model`` says it all); a field that varies within a
    label's level (``midtrain.lr`` at ``midtrain=lora``) is kept. Grouping by the labels and these fields is
    grouping by every field that varies. A field set for some jobs only (a learning rate, which a baseline
    does not have) varies too.
    """
    out = []
    for field in config_columns(df):
        text = df[field].astype(str)
        if text.nunique() <= 1:
            continue
        decided = False
        for label in _owners(field):
            levels = df[label].astype(str)
            if levels.nunique() > 1 and (text.groupby(levels).nunique() <= 1).all():
                decided = True
        if not decided:
            out.append(field)
    return out


def group_columns(df: pd.DataFrame, by: Sequence[str] | None = None) -> list[str]:
    """The columns a sweep's results are grouped by: ``by``, or every label but the seed and every config
    field that varies (:func:`varying_fields`)."""
    cols = [*(c for c in IDENTITY if c != "seed"), *varying_fields(df)] if by is None else list(by)
    absent = [c for c in cols if c not in df.columns]
    if absent:
        raise MsmError(f"cannot group by {absent}: not columns of the results (have {list(df.columns)})")
    return cols


def check_replicates(df: pd.DataFrame, by: Sequence[str]) -> None:
    """Raise if any group of ``by`` holds the same seed twice, naming the columns that tell its jobs apart
    (the SEM over seeds would be wrong: two different configurations would count as replicates)."""
    if "seed" not in df.columns:
        return
    keyed = df.assign(_seed=df["seed"].astype(str))
    for key, group in keyed.groupby(list(by), dropna=False, sort=False):
        dup = group[group.duplicated("_seed", keep=False)]
        if dup.empty:
            continue
        candidates = [c for c in (*IDENTITY, *config_columns(dup)) if c not in by and c != "seed" and c in dup.columns
                      and dup[c].astype(str).nunique() > 1]
        where = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        seed = dup["_seed"].iloc[0]
        if candidates:
            raise MsmError(f"the group {where} holds seed {seed} more than once: its jobs differ in "
                           f"{candidates[:4]}; group by them too (--by ... {' '.join(candidates[:2])})")
        raise MsmError(f"the group {where} holds seed {seed} more than once with nothing to tell the jobs apart: "
                       f"the same job loaded twice? ({sorted(dup['job_dir'].astype(str))[:4]})")
