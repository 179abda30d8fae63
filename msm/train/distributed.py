"""Data-parallel training inside one job: a training stage's recipe run by N torchrun workers.

    python train.py midtrain.processes=4 aft.processes=4      # a 4-GPU node: one worker per GPU (NCCL)
    python train.py model=tiny midtrain.processes=2 midtrain.batch_size=2  # CPU: two workers over gloo (what CI runs)

Why a subprocess rather than launching the whole job under torchrun: everything around training (the
store and its locks, data stages that call LLMs, evals, the tracker, the summary) is one process's work,
and N copies of it would race on the store and call the generator N times. So the stage's build runs
``torch.distributed.run --standalone`` over :func:`_worker`, which runs the same recipe
(``msm.train.recipes``) the single-process path runs. The Trainer sees ``WORLD_SIZE`` and wraps the
model in DDP; ``batch_size`` stays the global batch (each worker takes ``batch_size / processes`` rows
per step), and the loss is averaged over the tokens of all workers (the Trainer's
``average_tokens_across_devices``), so N workers compute the single-process update up to float
rounding. Rank 0 alone saves checkpoints, the weights and the stats, and its training curve reaches the
tracker when the stage ends (a resumed stage's curve keeps the killed run's steps up to its checkpoint).
A worker that fails fails the stage with its output on the console; a worker whose job died ends too.

``sharding=fsdp`` shards instead of replicating: FSDP2 through the Trainer's accelerate plugin, each
decoder layer a unit, checkpoints written shard by shard (``loop._fsdp_config``). Under bf16 each layer's
parameters are cast to bf16 for its compute and gradients are reduced in bf16, while the sharded master
weights and the optimizer state stay fp32.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from omegaconf import OmegaConf

from msm import console
from msm.errors import MsmError
from msm.hardware import allotted_cpus
from msm.jsonl import read_jsonl, write_json, write_jsonl
from msm.train import loop, recipes

RECIPES = {"midtrain": recipes.midtrain, "aft": recipes.aft}


def run(recipe: str, work: Path, ref: dict, data_file: Path, stage_cfg, model_cfg, seed: int,
        log_fn: Callable[[dict], None], health) -> dict:
    """Train with ``stage_cfg.processes`` workers (1: in this process); return the recipe's stats."""
    n = int(stage_cfg.processes)
    if n <= 1:
        return RECIPES[recipe](work, ref, data_file, stage_cfg, model_cfg, seed, log_fn, health)
    last = loop.last_complete_checkpoint(work / "checkpoints")  # drop a cut-off checkpoint before any worker looks
    job, curve, stats = work / "distributed.json", work / "distributed_log.jsonl", work / "distributed_stats.json"
    write_jsonl(curve, _curve_before(curve, recipe, int(Path(last).name.rsplit("-", 1)[-1]) if last else 0))
    stats.unlink(missing_ok=True)
    container = lambda c: OmegaConf.to_container(c, resolve=True, enum_to_str=True) if OmegaConf.is_config(c) else c  # noqa: E731
    write_json(job, {"job_pid": os.getpid(), "log_level": str(console.level()), "recipe": recipe, "work": str(work),
                     "ref": ref, "data_file": str(data_file), "stage": container(stage_cfg),
                     "model": container(model_cfg), "seed": seed,
                     "health": container(health) if health is not None else None})
    threads = max(1, (allotted_cpus() or os.cpu_count() or n) // n)  # workers share the job's CPUs
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(threads))}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
           "-m", "msm.train.distributed", str(job)]
    done = subprocess.run(cmd, env=env)
    if done.returncode != 0 or not stats.is_file():
        raise MsmError(f"{recipe}: the {n} training processes failed (exit status {done.returncode}); their "
                       "output is above. Nothing was published; a rerun resumes from the last checkpoint")
    for record in read_jsonl(curve) if curve.is_file() else []:
        log_fn(record)
    result = {**json.loads(stats.read_text()), "processes": n, "sharding": str(stage_cfg.sharding)}
    for path in (job, curve, stats):  # the workers' hand-over files are not part of the artifact
        path.unlink(missing_ok=True)
    return result


def _curve_before(curve: Path, recipe: str, step: int) -> list[dict]:
    """The records a killed run logged up to the checkpoint its successor resumes from (the workers log the
    later steps again). A kill can cut the last line short: the records before it are kept."""
    kept = []
    for line in (curve.read_text(encoding="utf-8").splitlines() if curve.is_file() else []):
        try:
            record = json.loads(line)
        except ValueError:
            break
        if record.get(f"{recipe}/step", 0) <= step:
            kept.append(record)
    return kept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed job not yet reaped by its parent is a zombie: dead, though its pid exists
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (macOS): the pid exists


def _die_with(job_pid: int) -> None:
    """End this worker when the job that launched it is gone. torchrun starts each worker in a session of
    its own, so a job killed with SIGKILL (or by the OOM killer) would leave its workers training on, writing
    checkpoints into a work folder that the rerun, holding the lock the dead job released, resumes from."""

    def watch() -> None:
        while _alive(job_pid):
            time.sleep(0.2)
        os._exit(137)

    threading.Thread(target=watch, name="msm-die-with-job", daemon=True).start()


def _worker(job_file: str) -> None:
    job = json.loads(Path(job_file).read_text())
    _die_with(int(job["job_pid"]))
    console.configure(job["log_level"])
    work = Path(job["work"])
    lead = loop.is_lead()

    def log_fn(record: dict) -> None:
        if lead:
            with open(work / "distributed_log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    health = OmegaConf.create(job["health"]) if job["health"] is not None else None
    stats = RECIPES[job["recipe"]](work, job["ref"], Path(job["data_file"]), OmegaConf.create(job["stage"]),
                                   OmegaConf.create(job["model"]), int(job["seed"]), log_fn, health)
    if lead:
        write_json(work / "distributed_stats.json", stats)
    import torch.distributed as dist

    if dist.is_initialized():  # left to interpreter exit, gloo's threads can abort the worker (SIGABRT) after
        dist.barrier()  # a finished run: every worker is done, then the group is taken down in order
        dist.destroy_process_group()


if __name__ == "__main__":
    _worker(sys.argv[1])
