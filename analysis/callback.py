"""Analyse a sweep when it ends: a Hydra callback that writes the tables and figures into the sweep folder.

``conf/train.yaml`` registers it (``hydra.callbacks.analysis``). Hydra calls ``on_multirun_end`` on the
launching machine once every job has returned, local or Slurm alike; it reads the sweep folder, as
``python -m analysis <sweep>`` does, so a sweep whose launcher was detached or killed is analysed with
that command instead. A failure of the analysis is reported and never fails the sweep: the jobs' results
are already on disk. Jobs that failed (their ``status.json`` says so; train.py lets the sweep go on past
them) are listed with their error, and the sweep then exits with a non-zero status. Turn it off with
``~hydra.callbacks.analysis``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def job_states(sweep: Path) -> tuple[int, list[tuple[Path, str]], int]:
    """(jobs with metrics, [(job folder, first line of its error)] of the failed ones, the others: still
    running, killed, or stopped before the eval), read from the job folders' files."""
    finished, failed, other = 0, [], 0
    for status in sorted(sweep.glob("*/status.json"), key=lambda p: (len(p.parent.name), p.parent.name)):
        try:
            record = json.loads(status.read_text())
        except (OSError, ValueError):
            record = {}
        if (status.parent / "metrics.json").is_file():
            finished += 1
        elif record.get("status") in ("failed", "interrupted"):
            failed.append((status.parent, (record.get("error") or "failed without a message").splitlines()[0]))
        else:
            other += 1
    return finished, failed, other


def finish_sweep(sweep: Path) -> int:
    """The end-of-sweep step: analyse the sweep folder, list each failed job with its error, print the
    closing line; returns how many jobs failed. Run by the callback when a sweep ends, and by
    ``python -m msm.sweep collect`` for a sweep whose launcher was killed or detached."""
    _analyse(sweep)
    finished, failed, other = job_states(sweep)
    for job, error in failed:
        print(f"failed: {job}: {error}")
    print(f"{finished} job(s) finished, {len(failed)} failed"
          + (f", {other} without metrics (running, killed or stopped before the eval)" if other else "")
          + f"; tables and figures in {sweep}; again any time: python -m analysis {sweep}")
    return len(failed)


class AnalyzeSweep(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        failed = finish_sweep(Path(config.hydra.sweep.dir))
        if failed:  # the sweep's exit status says so too; every other job ran and its results are on disk
            raise SystemExit(f"{failed} job(s) of the sweep failed (listed above)")


def _analyse(sweep: Path) -> None:
    from msm.errors import MsmError

    from .cli import analyse

    print(f"\n== analysing the sweep in {sweep} (again any time: python -m analysis {sweep}) ==")
    try:
        analyse([sweep])
    except MsmError as err:
        print(f"analysis skipped: {err}")
    except Exception as err:  # the sweep's results are on disk; a plotting bug must not fail the sweep
        log.exception("analysis of %s failed", sweep)
        print(f"analysis failed ({type(err).__name__}: {err}); the jobs' results are in {sweep}")
