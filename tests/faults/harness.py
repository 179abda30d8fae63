"""Run real jobs in child processes that can be killed with SIGKILL at any moment, cheaply.

A fresh ``python train.py`` pays ~7 s of imports before its first stage; the suite kills jobs dozens of
times, so children are forked from a *forkserver* that imported torch, transformers, peft and msm once
(``set_forkserver_preload``). Each child composes the config from ``conf/`` as ``train.py`` would and
calls ``msm.pipeline.run``: the same code path, the same store, the same atomic writes; only Hydra's
command-line wrapper is skipped. The forkserver imports but never runs a torch op, so no thread pool
exists when it forks.

A child announces nothing: the parent learns that a stage has started from the store itself (the build
lock's holder note names the pid that took it), so a kill lands inside the stage it was aimed at.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRELOAD = ["torch", "transformers", "peft", "msm.pipeline", "msm.train.recipes", "msm.evals.cheese"]
# what differs between any two runs: wall-clock times, folders, and the throughput meter's figures, which
# cover the batches a process trained (since its resume, for a resumed run: msm/train/flops.py)
TIMING_KEYS = ("_s", "_seconds", "job_dir", "/real_token_fraction", "/mfu", "/hfu")


def _pause_in_checkpoint(stage: str, nth: int, job_dir: str) -> None:
    """Halt the child inside the ``nth`` checkpoint of ``stage`` once its weights and optimizer state are on
    disk and its RNG and trainer state are not, and say so in ``job_dir/paused``, so the parent's SIGKILL
    lands in the middle of a checkpoint's files (the Trainer writes trainer_state.json last)."""
    from transformers import Trainer

    write_rng_state, seen = Trainer._save_rng_state, []

    def paused(trainer, output_dir):
        if f"/{stage}/" in str(output_dir):
            seen.append(output_dir)
            if len(seen) == nth:
                (Path(job_dir) / "paused").write_text(str(output_dir))
                time.sleep(3600)
        return write_rng_state(trainer, output_dir)

    Trainer._save_rng_state = paused


def _child(overrides: list[str], job_dir: str, pause: tuple[str, int] | None = None) -> None:
    log = open(Path(job_dir) / "child.log", "ab", buffering=0)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    if pause is not None:
        _pause_in_checkpoint(*pause, job_dir)
    from hydra import compose, initialize_config_dir

    from msm.config import register_configs
    from msm.pipeline import run

    register_configs()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    run(cfg, output_dir=job_dir)


_ctx = None


def context():
    global _ctx
    if _ctx is None:
        _ctx = mp.get_context("forkserver")
        _ctx.set_forkserver_preload(PRELOAD)
    return _ctx


def start(overrides: list[str], job_dir: Path, pause: tuple[str, int] | None = None):
    """Start a job in a child process; with ``pause=(stage, n)`` it halts inside that stage's n-th checkpoint."""
    job_dir.mkdir(parents=True, exist_ok=True)
    proc = context().Process(target=_child, args=(list(overrides), str(job_dir), pause), daemon=False)
    proc.start()
    return proc


def run_to_end(overrides: list[str], job_dir: Path, timeout_s: float = 600, metrics: bool = True) -> dict | None:
    """Run a job uninterrupted; return its metrics (the test fails with the child's log if it fails)."""
    proc = start(overrides, job_dir)
    proc.join(timeout_s)
    if proc.is_alive():
        proc.kill()
        proc.join()
    log = (job_dir / "child.log").read_text(errors="replace")[-3000:]
    assert proc.exitcode == 0, f"job {job_dir} exited {proc.exitcode}:\n{log}"
    return json.loads((job_dir / "metrics.json").read_text()) if metrics else None


def comparable(metrics: dict) -> dict:
    """Metrics without what differs between any two runs (TIMING_KEYS)."""
    return {k: v for k, v in metrics.items() if not k.endswith(TIMING_KEYS)}


def builds(job_dir: Path) -> list[tuple[str, str]]:
    """(stage, key) of every artifact a finished job used, in build order, each once."""
    seen = []
    for a in json.loads((job_dir / "artifacts.json").read_text()):
        if (a["stage"], a["key"]) not in seen:
            seen.append((a["stage"], a["key"]))
    return seen


def stage_seconds(job_dir: Path) -> dict[tuple[str, str], float]:
    return {(a["stage"], a["key"]): a["seconds"] for a in json.loads((job_dir / "artifacts.json").read_text())}


def artifact_files(store: Path, stage: str, key: str) -> dict[str, str]:
    """sha256 of every file of a published artifact but its manifest (which holds build times), with the
    store's own path blanked out (an adapter's config names its base model by its path in the store)."""
    path = store / stage / key
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes().replace(str(store).encode(), b"<store>")).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def holder_pid(store: Path, stage: str, key: str) -> int | None:
    try:
        return json.loads((store / stage / f".{key}.holder.json").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def lost_artifacts(store: Path, published: set[tuple[str, str]]) -> list[str]:
    """Folders at a final path without a manifest (a half-written artifact that looks complete), and
    artifacts published earlier that are gone."""
    lost = []
    for stage_dir in (p for p in store.iterdir() if p.is_dir() and (p / ".partial").is_dir()):  # stages, not caches
        for art in (p for p in stage_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not (art / "manifest.json").is_file():
                lost.append(f"{stage_dir.name}/{art.name}: no manifest")
            else:
                published.add((stage_dir.name, art.name))
    lost += [f"{s}/{k}: published, then gone" for s, k in sorted(published) if not (store / s / k / "manifest.json").is_file()]
    return lost


@dataclass
class Tally:
    """What the suite did, for its summary line (see conftest.py)."""

    kills: int = 0
    kills_by_stage: dict = field(default_factory=dict)
    faults: int = 0
    bad_inputs: int = 0
    lost: int = 0


TALLY = Tally()


def kill_in_stage(overrides: list[str], job_dir: Path, store: Path, stage: str, key: str, delay_max_s: float,
                  rng: random.Random, timeout_s: float = 300) -> str:
    """Start the job, wait until it holds the build lock of ``stage/key``, SIGKILL it after a random delay
    in [0, delay_max_s). Returns "killed", or "done" when the stage was already published (nothing to kill)."""
    proc = start(overrides, job_dir)
    deadline = time.monotonic() + timeout_s
    try:
        while holder_pid(store, stage, key) != proc.pid:
            if (store / stage / key / "manifest.json").is_file() or not proc.is_alive():
                proc.join(timeout_s)
                return "done"
            assert time.monotonic() < deadline, f"{stage} did not start within {timeout_s}s"
            time.sleep(0.01)
        time.sleep(rng.uniform(0, delay_max_s))
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended on its own meanwhile
            pass
        proc.join(timeout_s)
        return "killed" if proc.exitcode == -signal.SIGKILL else "done"
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
