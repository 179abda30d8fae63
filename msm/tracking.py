"""Weights & Biases logging for one job: its config, training curves, and final metrics.

Offline by default: a run folder is written under the job's output folder (``wandb/offline-run-*``)
and ``wandb sync`` uploads it later, so sweeps run on machines with no network. ``logger=none``
turns tracking off; metrics.json is written either way. Everything sent to W&B (config, command line,
history, summary, tables) passes through ``msm.secrets.scrub`` first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from msm.secrets import scrub

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from wandb.sdk.wandb_run import Run

HISTORY_FILE = "history.jsonl"  # every record sent to W&B's history, one per line, for reading without W&B
_SECRET = re.compile(r"(api_?key|secret|password|auth_token|access_token)$", re.IGNORECASE)


def redact(obj):
    """A copy of a config tree with any secret-looking value replaced. Keys belong in the environment only."""
    if isinstance(obj, dict):
        return {k: "<redacted>" if _SECRET.search(str(k)) and v else redact(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(v) for v in obj]
    return obj


class Tracker:
    """A thin wrapper so stages can log without knowing whether W&B is on.

    W&B failing never fails a job: its results are on disk either way. When a call into W&B raises (its
    service process was killed, as Slurm does to every process of a job it requeues), the tracker says
    so once and goes quiet, so the exception that matters (the preemption's exit, a real error) is the
    one the job ends with.
    """

    def __init__(self, run: Run | None = None, job_dir: Path | None = None):
        self.run, self.job_dir = run, job_dir

    def _call(self, fn, *args, **kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as e:
            log.warning("W&B stopped working (%s: %s); the job goes on without it, its files are complete",
                        type(e).__name__, e)
            self.run = None

    @property
    def dir(self) -> Path | None:
        return Path(self.run.dir).parent if self.run else None

    def log(self, record: dict) -> None:
        if self.run:
            record = scrub(record)
            self._call(self.run.log, record)
            if self.job_dir is not None:
                with open(self.job_dir / HISTORY_FILE, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")

    def summary(self, record: dict) -> None:
        if self.run:
            self._call(self.run.summary.update, scrub(record))

    def table(self, name: str, rows: list[dict]) -> None:
        """Log rows (one eval item or sample each) as a W&B Table, so transcripts are read beside the numbers.

        Columns are every key any row has, in first-seen order; nested values (options, evidence) are
        written as JSON text so one column keeps one type.
        """
        if not self.run or not rows:
            return
        import wandb

        columns = list(dict.fromkeys(k for r in rows for k in r))
        cell = lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list, tuple)) else v  # noqa: E731
        data = scrub([[cell(r.get(c)) for c in columns] for r in rows])
        self._call(self.run.log, {name: wandb.Table(columns=columns, data=data)})

    def finish(self, exit_code: int = 0) -> None:
        if self.run:
            self._call(self.run.finish, exit_code=exit_code)
            self.run = None


def start(cfg: DictConfig, job_dir: Path, name: str, group: str, extra: dict | None = None) -> Tracker:
    """A W&B run for the job (or none under ``logger=none``); ``extra`` joins the run's config
    (the job's provenance)."""
    if cfg.logger.mode == "disabled":
        return Tracker(None)
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    # One W&B run per job folder: a requeued or restarted job continues it (W&B appends online; offline, the
    # second run folder carries the same id and `wandb sync` of both continues the run).
    run_id = hashlib.sha256(str(Path(job_dir).resolve()).encode()).hexdigest()[:16]
    argv, sys.argv = sys.argv, scrub(sys.argv)  # W&B records the command line in the run's metadata
    try:
        run = wandb.init(
            project=cfg.logger.project,
            entity=cfg.logger.entity,
            mode=str(cfg.logger.mode),
            dir=str(job_dir),
            name=scrub(name),
            group=scrub(cfg.logger.group or group),
            job_type=scrub(str(cfg.experiment or "job")),
            config=scrub(redact({**OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), **(extra or {})})),
            reinit="finish_previous",
            id=run_id,
            resume="allow",
        )
    finally:
        sys.argv = argv
    for stage in ("midtrain", "aft"):
        run.define_metric(f"{stage}/*", step_metric=f"{stage}/step")
    return Tracker(run, Path(job_dir))
