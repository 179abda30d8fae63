"""Where a result came from: code, packages, machine and scheduler, recorded beside every job's results.

A number in a paper table has to be traced back to the code that made it. Each job writes
``provenance.json`` into its folder when it starts (and the same record goes into the W&B run's
config under ``provenance``): the git commit and whether the tree had uncommitted changes, the
versions of the packages that shape training and evaluation, the host and accelerator, the Slurm job
id, array task and restart count when Slurm ran it, the command line, and the resolved config. A
requeued job rewrites it, so the restart count is the latest.
"""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
import time
from importlib import metadata

from msm.paths import REPO

PACKAGES = ("msm", "torch", "transformers", "peft", "trl", "accelerate", "datasets", "tokenizers", "hydra-core",
            "omegaconf", "hydra-submitit-launcher", "submitit", "wandb", "vllm", "openai", "anthropic", "numpy",
            "scipy")
SLURM_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT", "SLURM_JOB_NODELIST",
              "SLURM_JOB_PARTITION", "SLURM_NTASKS", "SLURM_PROCID")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state() -> dict:
    """The commit the code was at, and whether tracked or untracked files differed from it (a dirty tree
    means the commit alone does not reproduce the run). Null fields when the code is not a git checkout."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=normal") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None,
            "changed_files": len(status.splitlines()) if status else 0, "branch": _git("rev-parse", "--abbrev-ref", "HEAD")}


def package_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def accelerator() -> dict:
    import torch

    info = {"cuda": torch.version.cuda, "gpus": []}
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def slurm(environ) -> dict | None:
    """The scheduler's view of the job, or None outside Slurm. ``restarts``: how many times Slurm requeued it."""
    if "SLURM_JOB_ID" not in environ:
        return None
    record = {name.removeprefix("SLURM_").lower(): environ[name] for name in SLURM_VARS if name in environ}
    record["restarts"] = int(environ.get("SLURM_RESTART_COUNT", 0) or 0)
    return record


def collect(resolved_config: dict, environ) -> dict:
    return {
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git": git_state(),
        "packages": package_versions(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "accelerator": accelerator(),
        "slurm": slurm(environ),
        "argv": list(sys.argv),
        "config": resolved_config,
    }
