"""Peak resident memory of this process, per stage.

A job reports how much memory each stage peaked at (``artifacts.json``, the job summary), because "will
it fit on my laptop / this node" is asked before anything else and the answer differs per stage. Linux
keeps a high-water mark (``VmHWM``) that writing ``5`` to ``/proc/self/clear_refs`` resets, so each
stage's own peak is measurable in-process. Elsewhere the lifetime peak (``ru_maxrss``) is all there is,
so a stage reports the peak so far.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import re
import resource
import sys
from pathlib import Path

_STATUS, _CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")
_HWM = re.compile(r"^VmHWM:\s+(\d+) kB", re.MULTILINE)


def release() -> None:
    """Give freed memory back to the OS between stages: collect reference cycles (a Trainer and its model
    hold each other), then ask glibc to return its free heap (large freed tensors otherwise stay resident,
    and the next stage's peak stacks on top of them).

    What survives the collection is long-lived (imported modules, the job's config and store), so it is
    frozen out of later collections (``gc.freeze``): a full collection over everything torch and
    transformers import takes ~0.4 s, a collection of what one stage made a small part of that."""
    gc.collect()
    gc.freeze()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to trim
            pass


def reset_peak() -> None:
    """Start a new high-water mark (Linux); a no-op where the kernel offers none."""
    try:
        _CLEAR.write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    """The resident-memory peak since the last :func:`reset_peak` (Linux) or since start, in MiB."""
    try:
        return int(_HWM.search(_STATUS.read_text()).group(1)) / 1024
    except (OSError, AttributeError):
        scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 1024  # bytes on macOS, KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
