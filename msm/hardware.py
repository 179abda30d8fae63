"""What this process may compute on: how many CPU threads a job should give torch.

torch starts one OpenMP thread per physical core of the machine, whatever share of it the job was given.
Two jobs doing that on the same cores spin-wait against each other: measured on 2 cores, two concurrent
tiny-model jobs took 708 s with torch's default (2 threads each) and 66 s with 1 thread each. Jobs share
cores whenever Slurm packs several onto a node (``cpus_per_task`` below the node's cores), under
``taskset``/cpusets, or when tests run side by side. So a job takes the CPUs it was allotted: Slurm's
``SLURM_CPUS_PER_TASK``, else the CPUs the OS lets this process run on, never more than torch's default.
"""

from __future__ import annotations

import os


def allotted_cpus() -> int | None:
    """The CPUs this job was given: Slurm's per-task allocation, else this process's CPU affinity (None: unknown)."""
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return None


def cpu_threads(configured: int | None) -> int | None:
    """Torch threads for this job: ``threads`` when set; else none to change if ``OMP_NUM_THREADS`` says it
    (torch read it at import); else torch's default capped at the allotted CPUs. None: leave torch as it is."""
    if configured:
        return int(configured)
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    import torch

    allotted = allotted_cpus()
    return min(torch.get_num_threads(), allotted) if allotted else None
