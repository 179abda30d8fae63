"""What a job prints: msm's own progress and problems by default, every library's output on request.

Left to themselves, the libraries print hundreds of progress-bar lines in a first run (one per
``datasets.map`` call, per tokenizer pass), the Trainer's log dict every few steps and the same deprecation
warnings once per stage, none of which the user can act on. ``log_level`` (a top-level setting) chooses:

- ``info`` (default): msm's log lines, one progress bar per long stage (document generation, each
  training stage, each eval), library progress bars off, library deprecation warnings silenced, the
  libraries' own INFO logs off;
- ``debug``: everything back, as the libraries print it (``hydra.verbose=true`` implies it);
- ``warning``: problems and the closing summary only, no progress bars.

The setting is process-wide (like :mod:`logging` itself), so stages ask :func:`verbose` rather than
taking a flag through every call.
"""

from __future__ import annotations

import logging
import os
import warnings

from msm import redaction
from msm.config import LogLevel

LIBRARIES = ("transformers", "peft", "datasets", "accelerate", "torch", "huggingface_hub", "trl", "inspect_ai",
             "inspect_evals", "httpx")
_level = LogLevel.info


def configure(level: str) -> None:
    global _level
    redaction.scrub_log_records()  # train.py does it first; a job run from a composed config needs it here
    _level = LogLevel(level)
    if logging.getLogger().isEnabledFor(logging.DEBUG):  # hydra.verbose=true
        _level = LogLevel.debug
    if _level == LogLevel.debug:
        return
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    for lib in LIBRARIES:
        warnings.filterwarnings("ignore", category=FutureWarning, module=rf"{lib}(\.|$)")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=rf"{lib}(\.|$)")
    for lib in ("inspect_ai", "inspect_evals", "httpx"):  # every request and every task module loaded, at INFO
        logging.getLogger(lib).setLevel(logging.WARNING)
    if _level == LogLevel.warning:
        logging.getLogger("msm").setLevel(logging.WARNING)
        os.environ["TQDM_DISABLE"] = "1"  # tqdm reads it for every bar it creates


def level() -> LogLevel:
    """The level set for this process (what a child process, e.g. a training worker, is configured with)."""
    return _level


def verbose() -> bool:
    """True when the libraries should print as they would without msm (``log_level=debug``)."""
    return _level == LogLevel.debug
