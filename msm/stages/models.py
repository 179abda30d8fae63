"""The model stages: the base model a job starts from, then midtraining (MSM) and alignment (AFT).

A trained stage publishes only a LoRA adapter when it can and points at the base it sits on, so its
reference (:class:`ModelRef`) is known from the settings before anything is trained: the whole job
can be planned, and its keys computed, without building a thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from msm.config import ModelConfig, TrainMethod
from msm.jsonl import read_jsonl, write_jsonl
from msm.models import chat_template_digest
from msm.stages.common import plain
from msm.store import Build, Store, files_digest

LogFn = Callable[[dict], None]

TRAIN_BOOKKEEPING = ("name", "save_steps", "save_minutes", "logging_steps", "activation_checkpointing")
"""Training settings that change how a run is recorded or how much memory it takes, not what it learns
(activation checkpointing recomputes the same activations): left out of its key."""


@dataclass(frozen=True)
class ModelRef:
    """Weights to load: a base (folder or hub id) plus an optional LoRA adapter folder."""

    base: str
    adapter: str | None
    key: str  # what downstream stage keys depend on

    def as_dict(self) -> dict:
        return {"base": self.base, "adapter": self.adapter}


def base_model(store: Store, model_cfg: ModelConfig) -> tuple[ModelRef, Build | None]:
    """The pretrained starting point: built (tiny), converted once (SmolLM2 GGUF), or a hub id / folder
    (nothing to build: its key is its name)."""
    if model_cfg.source == "hub":
        return ModelRef(model_cfg.name_or_path, None, f"hub:{model_cfg.name_or_path}"), None
    from msm.train import base_models

    if model_cfg.source == "tiny":
        arch = plain(model_cfg.arch)
        settings = {"source": "tiny", "arch": arch, "corpus": files_digest([base_models.TINY_CORPUS])}
        build = lambda w: base_models.build_tiny_model(w / "model", base_models.TinyArch(**arch))  # noqa: E731
    else:
        gguf = base_models.find_smollm2_gguf()
        settings = {"source": "smollm2_gguf", "file": gguf.name, "bytes": gguf.stat().st_size}
        build = lambda w: base_models.convert_smollm2(w / "model")  # noqa: E731
    b = Build("base_model", settings, {}, base_models.VERSION, build)
    return ModelRef(str(store.path(b.stage, b.key) / "model"), None, b.ref), b


def _train_settings(stage_cfg) -> dict:
    """What of a training stage's settings goes into its key. ``processes`` only when above 1 and ``sharding``
    only when on: N workers, sharded or not, compute the same update up to float rounding, and a
    single-process key stays what it always was."""
    settings = {k: v for k, v in plain(stage_cfg).items() if k not in TRAIN_BOOKKEEPING}
    if settings.get("processes") == 1:
        del settings["processes"]
    if settings.get("sharding") == "none":
        del settings["sharding"]
    return settings


def _trained(store: Store, b: Build, parent: ModelRef, method: TrainMethod) -> ModelRef:
    """Where a trained stage's weights will be: a LoRA adapter on the parent's base, or a whole model."""
    folder = store.path(b.stage, b.key)
    if method == TrainMethod.lora:
        return ModelRef(parent.base, str(folder / "adapter"), b.ref)
    return ModelRef(str(folder / "model"), None, b.ref)


def midtrained(store: Store, cfg: DictConfig, base: ModelRef, docs: Build, log: LogFn) -> tuple[ModelRef, Build]:
    """MSM: next-token loss over the spec's documents, on top of the base model."""
    from msm.data.transforms import versions
    from msm.train import distributed, loop, recipes

    documents_file = store.path(docs.stage, docs.key) / "documents.jsonl"
    settings = {"midtrain": _train_settings(cfg.midtrain), "max_seq_len": cfg.model.max_seq_len, "seed": cfg.seed,
                "code": {"loop": loop.VERSION, "transforms": versions(*recipes.MIDTRAIN_TRANSFORMS)}}
    inputs = {"model": base.key, "documents": docs.ref}

    def build(work: Path) -> dict:
        return distributed.run("midtrain", work, base.as_dict(), documents_file, cfg.midtrain, cfg.model, cfg.seed,
                               log, cfg.train)

    b = Build("midtrain", settings, inputs, recipes.MIDTRAIN_VERSION, build)
    return _trained(store, b, base, cfg.midtrain.method), b


def aligned(store: Store, cfg: DictConfig, start: ModelRef, pool: Build, log: LogFn) -> tuple[ModelRef, Build]:
    """AFT on ``aft_scale`` rows drawn from the pool with the data seed (CoT kept or stripped), continuing
    the midtrained adapter when there is one."""
    from msm.data.transforms import strip_think, subsample, versions
    from msm.train import distributed, loop, recipes

    pool_file = store.path(pool.stage, pool.key) / "pool.jsonl"
    row_transforms = (subsample,) if cfg.aft.cot else (subsample, strip_think)
    settings = {
        "aft": _train_settings(cfg.aft), "aft_scale": cfg.aft_scale.rows, "data_seed": cfg.data.seed,
        "max_seq_len": cfg.model.max_seq_len, "chat_template": chat_template_digest(cfg.model.chat_template),
        "seed": cfg.seed,
        "code": {"loop": loop.VERSION, "transforms": versions(*row_transforms, *recipes.AFT_TRANSFORMS)},
    }
    inputs = {"model": start.key, "pool": pool.ref}

    def build(work: Path) -> dict:
        rows = subsample(read_jsonl(pool_file), cfg.aft_scale.rows, cfg.data.seed, what="AFT rows")
        if not cfg.aft.cot:
            rows = [strip_think(r) for r in rows]
        write_jsonl(work / "rows.jsonl", rows)
        return distributed.run("aft", work, start.as_dict(), work / "rows.jsonl", cfg.aft, cfg.model, cfg.seed, log,
                               cfg.train)

    b = Build("aft", settings, inputs, recipes.AFT_VERSION, build)
    method = TrainMethod.lora if start.adapter is not None else cfg.aft.method  # an MSM adapter is continued
    return _trained(store, b, start, method), b
