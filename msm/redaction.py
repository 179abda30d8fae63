"""Where the redaction pass of ``msm.secrets`` meets files msm does not write itself: Hydra's saved
configs, and log lines (Hydra's console and the job's log file, library loggers included)."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback

from msm.jsonl import atomic_write_text
from msm.secrets import scrub_text


def scrub_log_records() -> None:
    """Scrub every log record as it is made (message and traceback), whichever logger made it and
    whichever handler writes it: Hydra replaces its handlers when a sweep starts and again per job, and
    logs the overrides (``#0 : key=value``) before any job, so per-handler filters would miss lines. A
    record factory sees them all. Idempotent."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "msm_scrubs", False):
        return

    def make(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string: left for the handler to report, as logging does
            return record
        clean = scrub_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
        return record

    make.msm_scrubs = True
    logging.setLogRecordFactory(make)


def scrub_file(path: Path) -> None:
    """Rewrite a text file in place, atomically, if it holds a secret."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    clean = scrub_text(text)
    if clean != text:
        atomic_write_text(path, clean)


class RedactHydraFiles(Callback):
    """Hydra saves the composed config, its own config and the overrides (``.hydra/*.yaml``, and the
    sweep's ``multirun.yaml``) before a job starts, exactly as typed. This rewrites them redacted as
    soon as the job starts, and the sweep file again when the sweep ends (log lines are scrubbed as they
    are made: :func:`scrub_log_records`)."""

    def on_job_start(self, config, **kwargs) -> None:
        scrub_log_records()
        runtime = config.hydra.runtime
        if config.hydra.output_subdir is not None:
            for path in (Path(runtime.output_dir) / str(config.hydra.output_subdir)).glob("*.yaml"):
                scrub_file(path)
        self._sweep_file(config)

    def on_multirun_end(self, config, **kwargs) -> None:
        self._sweep_file(config)

    @staticmethod
    def _sweep_file(config) -> None:
        try:
            sweep_file = Path(str(config.hydra.sweep.dir)) / "multirun.yaml"
        except Exception:  # a single run has no sweep folder to speak of
            return
        if sweep_file.is_file():
            scrub_file(sweep_file)
