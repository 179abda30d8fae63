"""Analyse a sweep when it ends: a Hydra callback that writes the tables and figures into the sweep folder.

``conf/train.yaml`` registers it (``hydra.callbacks.analysis``). Hydra calls ``on_multirun_end`` on the
launching machine once every job has returned, local or Slurm alike; it reads the sweep folder, as
``python -m analysis <sweep>`` does, so a sweep whose launcher was detached or killed is analysed with
that command instead. A failure here is reported and never fails the sweep: the jobs' results are
already on disk. Turn it off with ``~hydra.callbacks.analysis``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class AnalyzeSweep(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from msm.errors import MsmError

        from .cli import analyse

        sweep = Path(config.hydra.sweep.dir)
        print(f"\n== analysing the sweep in {sweep} (again any time: python -m analysis {sweep}) ==")
        try:
            result = analyse([sweep])
        except MsmError as err:
            print(f"analysis skipped: {err}")
            return
        except Exception as err:  # the sweep's results are on disk; a plotting bug must not fail the sweep
            log.exception("analysis of %s failed", sweep)
            print(f"analysis failed ({type(err).__name__}: {err}); the jobs' results are in {sweep}")
            return
        problems = len(result["problems"])
        print(f"{len(result['jobs'])} job(s) finished, {problems} failed or stopped without metrics"
              + (f" (see {sweep / 'problems.csv'})" if problems else "")
              + f"; tables and figures in {sweep}; again any time: python -m analysis {sweep}")
