"""What the benchmarks share: a job's config composed as ``train.py`` composes it, and the data and base
model its pipeline builds (through the store, so a second benchmark run reuses them)."""

from __future__ import annotations

import json
import random
import statistics
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from msm.config import register_configs  # noqa: E402
from msm.job import Job, resolve  # noqa: E402
from msm.jsonl import read_jsonl  # noqa: E402
from msm.paths import CONF_DIR  # noqa: E402
from msm.stages.base import base_model  # noqa: E402
from msm.stages.data import CORPUS, aft_pool, documents  # noqa: E402


def job_config(overrides: list[str]) -> Job:
    """The job ``python train.py <overrides>`` would run, resolved as the pipeline resolves it (msm/job.py)."""
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides))
    return resolve(cfg)


def editable(node):
    """A copy of a node of the job's config (which is read-only) that a benchmark may change."""
    from omegaconf import OmegaConf

    copy = node.copy()
    OmegaConf.set_readonly(copy, False)
    return copy


def pipeline_data(job: Job) -> tuple[list[dict], list[dict]]:
    """The job's documents and its AFT rows (``aft_scale`` rows drawn from the pool), as its data stages
    publish them."""
    from msm.data.transforms import subsample

    docs = read_jsonl(job.store.build(documents(job)).file(CORPUS))
    pool = read_jsonl(job.store.build(aft_pool(job)).file(CORPUS))
    return docs, subsample(pool, job.cfg.aft_scale.rows, job.cfg.data.seed, what="AFT rows")


def base_model_folder(job: Job) -> str:
    """The job's base model (the embedded SmolLM2 is converted once, then read from the store)."""
    ref, build = base_model(job.store, job.cfg.model)
    if build is not None:
        job.store.build(build)
    return ref.base


def mixed_lengths(docs: list[dict], seed: int = 0) -> list[dict]:
    """Documents of very different lengths, many longer than a row: runs of 1 to 6 of the real documents
    joined end to end, and the first paragraph alone of half of them."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(docs):
        k = rng.choice([1, 1, 2, 3, 6])
        out.append({"text": "\n\n".join(d["text"] for d in docs[i : i + k])})
        i += k
    return out + [{"text": d["text"].split("\n\n")[0]} for d in docs[: len(docs) // 2]]


def spread(values: list[float], digits: int = 1) -> str:
    """median (min-max), the form every benchmark reports."""
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def hardware() -> str:
    """What a figure was measured on, for a benchmark's setting line: torch's CPU threads, and the GPU if any."""
    import torch

    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{torch.get_num_threads()} CPU threads{gpu}"


def write_report(out: str | None, **report) -> None:
    """The results as JSON at ``out`` (nothing when it is None), with the command line that made them."""
    if out:
        Path(out).write_text(json.dumps({"command": " ".join(sys.argv), **report}, indent=1))
