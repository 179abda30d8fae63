"""One job as a typed, immutable value: the composed config resolved once, and what follows from it.

Why: a job's setup was re-derived wherever it was needed (the spec read by the preflight checks, the plan
and the pipeline; ``eval=auto`` resolved in four places), and what said which cell of an experiment a job
is was a hand-kept list of thirteen fields, so a sweep over any other knob (a learning rate, a LoRA rank)
had its configurations merged by the analysis. :func:`resolve` makes the :class:`Job` once:

- the spec, loaded and validated once (everything later takes ``job.spec``);
- the choices a job leaves to its spec (``eval=auto``, ``aft.data=auto``) made concrete in ``job.cfg``;
- the stages it runs (a prefix of data, midtrain, aft, eval), its arm, and the store it builds in;
- its identity: the whole science-bearing configuration, flat (``{"midtrain.lr": 1e-4, ...}``), without
  what the job never reads (a baseline's learning rates, the judge of a log-probability eval, the generator
  of a job that generates nothing). Two jobs measure the same thing exactly when their identities are
  equal; which fields are science and which bookkeeping is decided beside the schema
  (``msm.config.BOOKKEEPING``).

The pipeline, the plan, the preflight checks, the estimate and the benchmarks all take the job.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from omegaconf import DictConfig, OmegaConf

from msm.config import (
    EVAL_FIELDS,
    STAGES,
    AftData,
    AlsoEval,
    Arm,
    EvalKind,
    TrainMethod,
    field_class,
    plain,
)
from msm.errors import MsmError
from msm.specs import Spec, resolve_spec
from msm.store import Store

SPEC_DIGEST = "spec.digest"
"""The identity field holding the spec's content digest (the spec's file path is bookkeeping: the same text
anywhere is the same spec, and an edited file is another)."""


def stage_prefix(stages) -> list[str]:
    """``stages`` as plain names, which must be a non-empty prefix of the job's stages."""
    stages = [str(s) for s in stages]
    if not stages or stages != list(STAGES[: len(stages)]):
        raise MsmError(f"stages={stages} must be a non-empty prefix of {list(STAGES)}, e.g. stages=[data]")
    return stages


def resolve_auto(cfg: DictConfig, spec: Spec) -> DictConfig:
    """``eval=auto`` and ``aft.data=auto`` made concrete from the spec: the eval it says it is for (its
    ``evaluation:``; the value eval when it names none), and the fixed cheese chats for a cheese spec or
    rows generated from the spec otherwise. Explicit choices are left alone; ``cfg`` itself is not changed."""
    if cfg.eval.kind != EvalKind.auto and cfg.aft.data != AftData.auto:
        return cfg
    cfg = copy.deepcopy(cfg)
    if cfg.eval.kind == EvalKind.auto:
        kind = spec.evaluation or EvalKind.cheese.value
        cfg.eval.kind, cfg.eval.name = kind, f"auto:{kind}"
    if cfg.aft.data == AftData.auto:
        cfg.aft.data = AftData.cheese if spec.evaluation == EvalKind.cheese else AftData.generated
    return cfg


def aft_trains(configured: str, start_has_adapter: bool) -> TrainMethod:
    """What AFT trains: the LoRA adapter of the model it starts from when that model has one (AFT continues
    the MSM adapter, the paper's recipe), whatever ``aft.method`` says; otherwise what ``aft.method`` says.
    The one statement of the rule: training, the artifact's folder and the estimate all ask it."""
    return TrainMethod.lora if start_has_adapter else TrainMethod(str(configured))


def uses_generator(cfg: DictConfig) -> bool:
    """Whether the job asks its generator for anything: documents to midtrain on, or AFT rows from the spec."""
    return cfg.midtrain.method != "none" or (cfg.aft.method != "none" and cfg.aft.data == AftData.generated)


def uses_judge(cfg: DictConfig, stages) -> bool:
    """Whether an LLM judge grades anything: the agentic eval's responses, or retention's over-refusal check."""
    if "eval" not in [str(s) for s in stages] or cfg.judge.backend == "none":
        return False
    return cfg.eval.kind == EvalKind.agentic or AlsoEval.retention in cfg.eval.also


@dataclass(frozen=True, eq=False)
class Job:
    """One job, resolved. ``cfg`` is read-only, with ``auto`` choices made; ``identity`` is flat and sorted."""

    cfg: DictConfig
    spec: Spec
    stages: tuple[str, ...]
    store: Store
    identity: Mapping[str, Any]

    @property
    def midtrains(self) -> bool:
        return self.cfg.midtrain.method != TrainMethod.none

    @property
    def aligns(self) -> bool:
        return self.cfg.aft.method != TrainMethod.none

    @property
    def arm(self) -> Arm:
        return Arm.of(self.midtrains, self.aligns)

    @property
    def seed(self) -> int:
        return int(self.cfg.seed)

    @property
    def uses_generator(self) -> bool:
        return uses_generator(self.cfg)

    @property
    def uses_judge(self) -> bool:
        return uses_judge(self.cfg, self.stages)

    @property
    def aft_method(self) -> TrainMethod:
        """What the AFT stage trains (:func:`aft_trains`): the model it starts from has an adapter exactly
        when MSM trained a LoRA one."""
        return aft_trains(self.cfg.aft.method, self.cfg.midtrain.method == TrainMethod.lora)

    @property
    def labels(self) -> dict:
        """The names a reader knows the job by (the config group options, the spec's own id, the arm), as
        every job record starts; a label is None where the job does not use what it names (the generator of a
        job that generates nothing, the judge of a log-probability eval)."""
        cfg = self.cfg
        return {
            "spec": self.spec.id,
            "model": cfg.model.name,
            "arm": str(self.arm),
            "midtrain": cfg.midtrain.name,
            "aft": cfg.aft.name,
            "aft_data": str(cfg.aft.data) if self.aligns else None,
            "aft_scale": cfg.aft_scale.rows if self.aligns else None,
            "seed": self.seed,
            "eval": cfg.eval.name,
            "generator": cfg.generator.name if self.uses_generator else None,
            "datagen": cfg.datagen.name if self.uses_generator else None,
            "judge": cfg.judge.name if cfg.eval.kind == EvalKind.agentic else None,  # "none": sampled, not judged
            "experiment": cfg.experiment,
        }

    @property
    def name(self) -> str:
        """``<spec>-<arm>-<model>-s<seed>``: the W&B run name and the log's name for the job."""
        return f"{self.spec.id}-{self.arm}-{self.cfg.model.name}-s{self.seed}"

    def record(self, job_dir: str | Path) -> dict:
        """What every job record (``metrics.json``) starts with: its labels, its folder, and its configuration
        (the identity, the seed aside: it is a label) under ``config``."""
        return {**self.labels, "job_dir": str(job_dir),
                "config": {k: v for k, v in self.identity.items() if k != "seed"}}


def resolve(cfg: DictConfig, store: Store | None = None) -> Job:
    """The job ``cfg`` (a composed config, as a job's task function receives it) describes. Reads the spec
    once; raises :class:`~msm.errors.MsmError` when the spec cannot be read or the stages are no prefix."""
    stage_prefix(cfg.stages)  # before the spec is read: a wrong stages= is the first thing to hear about
    if OmegaConf.is_missing(cfg.spec, "path"):
        raise MsmError(f"spec={cfg.spec.name} needs spec.path: python train.py spec=file spec.path=path/to/my_spec.md")
    return assemble(cfg, resolve_spec(cfg.spec.path), store)


def assemble(cfg: DictConfig, spec: Spec, store: Store | None = None) -> Job:
    """The job of ``cfg`` with its spec already read (the preflight checks read it among their checks)."""
    stages = stage_prefix(cfg.stages)
    cfg = copy.deepcopy(resolve_auto(cfg, spec))
    OmegaConf.set_readonly(cfg, True)
    store = store or Store(cfg.paths.store, lock_timeout_s=cfg.paths.lock_timeout_s)
    return Job(cfg, spec, tuple(stages), store, MappingProxyType(identity(cfg, spec, stages)))


# ---- identity -------------------------------------------------------------------------------------------


def flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def identity_value(v: Any) -> Any:
    """A config value as an identity value: scalars as they are, a list as compact JSON text (hashable, and
    the same list always the same text)."""
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, sort_keys=True, default=str)
    return v


def unused(cfg: DictConfig, stages) -> list[str]:
    """Prefixes of the fields a job with this (resolved) config never reads, so they are not part of what it
    measures: a baseline's training settings, the data sizes of a pool it does not generate, the other
    eval kind's settings, a judge that grades nothing, the tiny model's shape for any other model."""
    out: list[str] = []

    def all_but(group: str, keep: tuple[str, ...]) -> list[str]:
        return [f"{group}.{k}" for k in OmegaConf.select(cfg, group).keys() if k not in keep]

    midtrains, aligns = cfg.midtrain.method != "none", cfg.aft.method != "none"
    msm_adapter = midtrains and cfg.midtrain.method == TrainMethod.lora
    if not midtrains:
        out += all_but("midtrain", ("method",)) + ["datagen.documents"]
    elif not msm_adapter:
        out.append("midtrain.lora")
    if not aligns:
        out += all_but("aft", ("method",)) + ["aft_scale", "datagen.aft"]
    else:
        if msm_adapter or aft_trains(cfg.aft.method, msm_adapter) != TrainMethod.lora:
            out.append("aft.lora")  # the MSM adapter carries on with its own settings, or full tuning
        if cfg.aft.data != AftData.generated:
            out.append("datagen.aft")
    if not uses_generator(cfg):
        out.append("generator")
    elif cfg.generator.backend == "offline":  # templates: only the sizes and the style shape what they write
        out += all_but("generator", ("backend",))
        out += all_but("datagen.documents", ("target_documents",)) + all_but("datagen.aft", ("target_rows", "style"))
    if cfg.model.source != "tiny":
        out.append("model.arch")
    if cfg.model.source != "hub":  # built here or converted from the packaged file: no path or hub id to read
        out.append("model.name_or_path")
    if "eval" not in [str(s) for s in stages]:
        return out + ["eval", "judge"]
    kind = EvalKind(str(cfg.eval.kind)) if str(cfg.eval.kind) != "auto" else None
    keep = {"also", *(EVAL_FIELDS.get(kind, ()) if kind else ())}
    if kind == EvalKind.cheese:
        keep.add("item_files")
    if kind == EvalKind.agentic:
        if cfg.eval.sampler == "vllm":
            keep.add("vllm")
        if cfg.judge.backend != "none":
            keep.add("policy_misuse")
    if AlsoEval.retention in cfg.eval.also:
        keep.add("retention")
    out += all_but("eval", tuple(keep))
    if not uses_judge(cfg, stages):
        out.append("judge")
    return out


def identity(cfg: DictConfig, spec: Spec | None, stages) -> dict[str, Any]:
    """The science-bearing configuration of a job, flat and sorted: every field :func:`msm.config.field_class`
    calls science, but those the job never reads (:func:`unused`), with the spec's content digest."""
    drop = unused(cfg, stages)
    out = {}
    for path, value in flatten(plain(cfg)).items():
        if field_class(path) == "bookkeeping" or any(path == p or path.startswith(p + ".") for p in drop):
            continue
        out[path] = identity_value(value)
    out[SPEC_DIGEST] = spec.digest()[:16] if spec is not None else None
    return dict(sorted(out.items()))
