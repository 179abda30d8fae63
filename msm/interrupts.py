"""SIGTERM and SIGINT, handled the same way for every job: recorded, said once, never swallowed.

Why: SIGTERM is what ``kill``, ``timeout``, Slurm's ``scancel`` and a job's time limit send, and Python's
default is to die on it silently, leaving ``status.json`` at "running" forever, so an analysis can only
guess what happened. And a Ctrl-C that lands inside a library's cleanup can be caught there and lost.

- :func:`handled` installs one handler for both signals for the length of a job: it first calls
  ``on_signal`` (the pipeline writes status "interrupted", naming the signal), then either raises
  :class:`Interrupted` (a ``KeyboardInterrupt``, so every ``finally`` runs and the existing Ctrl-C paths
  apply; the process exits with 128 + the signal's number) or, when something else had installed its own
  handler first (submitit's, under Slurm, which leaves SIGTERM to Slurm's requeue-or-kill), calls that one.
- :func:`check` raises again if an interruption was raised and then swallowed on its way out, so the
  pipeline, which calls it between stages, never runs on after a Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_pending: int | None = None  # a signal raised as Interrupted and not yet seen out of the job


class Interrupted(KeyboardInterrupt):
    """The job was stopped by a signal (``signum``); ``exit_code`` is the shell's 128 + signal."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {self.name}")

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def name(signum: int) -> str:
    return signal.Signals(signum).name


@contextmanager
def handled(on_signal: Callable[[int], None]) -> Iterator[None]:
    """SIGTERM and SIGINT handled for the ``with`` block (main thread only: signals are delivered there);
    the handlers that were there before are put back afterwards."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}

    def handler(signum, frame):
        global _pending
        on_signal(signum)
        before = previous[signum]
        if callable(before) and before is not signal.default_int_handler:
            before(signum, frame)  # someone else's (submitit's bypass): it decides what happens next
            return
        if before == signal.SIG_IGN:
            return
        _pending = signum
        raise Interrupted(signum)

    for s in SIGNALS:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def check() -> None:
    """Raise :class:`Interrupted` again if one was raised and did not make it out of the job."""
    if _pending is not None:
        raise Interrupted(_pending)


def clear() -> None:
    """The interruption reached the job's top: nothing is pending any more."""
    global _pending
    _pending = None
