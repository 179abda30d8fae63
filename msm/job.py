"""One job as a typed, immutable value: the composed config resolved once, and what follows from it.

Why: a job's setup was re-derived wherever it was needed (the spec read by the preflight checks, the plan
and the pipeline; ``eval=auto`` resolved in four places), and what said which cell of an experiment a job
is was a hand-kept list of thirteen fields, so a sweep over any other knob (a learning rate, a LoRA rank)
had its configurations merged by the analysis. :func:`resolve` makes the :class:`Job` once:

- the spec, loaded and validated once (everything later takes ``job.spec``);
- the choices a job leaves to its spec (``eval=auto``, ``aft.data=auto``) made concrete in ``job.cfg``;
- the stages it runs (a prefix of data, midtrain, aft, eval, or eval alone), its arm, and the store it builds in;
- what it brings (a corpus, demonstrations, a checkpoint), located and read for its content digest once
  (:class:`Imported`): what is built from it is keyed by that digest, never by where it lies;
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
import os
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
from msm.store import Store, content_digest

SPEC_DIGEST = "spec.digest"
"""The identity field holding the spec's content digest (the spec's file path is bookkeeping: the same text
anywhere is the same spec, and an edited file is another)."""


def stage_prefix(stages) -> list[str]:
    """``stages`` as plain names: a non-empty prefix of the job's stages, or ``[eval]`` alone (evaluate what
    the job brings or starts from, train nothing: the preflight checks hold every model stage to that)."""
    stages = [str(s) for s in stages]
    if stages != ["eval"] and (not stages or stages != list(STAGES[: len(stages)])):
        raise MsmError(f"stages={stages} must be a non-empty prefix of {list(STAGES)}, e.g. stages=[data], "
                       "or [eval] alone")
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


def trains(method) -> bool:
    """Whether a stage with this method trains (lora, full): not when absent (none) or brought (adapter)."""
    return TrainMethod(str(method)).trains


def starts_from_adapter(cfg: DictConfig, imports=()) -> bool:
    """Whether the model AFT starts from carries a LoRA adapter: MSM trained one, or the job brought one."""
    return cfg.midtrain.method == TrainMethod.lora or any(
        i.field == "midtrain.adapter" and i.kind == "lora_adapter" for i in imports)


def uses_generator(cfg: DictConfig) -> bool:
    """Whether the job asks its generator for anything: documents to midtrain on (unless it brings its own
    corpus), or AFT rows from the spec."""
    return (trains(cfg.midtrain.method) and cfg.datagen.documents.source is None) \
        or (trains(cfg.aft.method) and cfg.aft.data == AftData.generated)


IMPORT_FIELDS = {"datagen.documents.source": "corpus", "aft.data_path": "demonstrations",
                 "midtrain.adapter": "checkpoint", "aft.adapter": "checkpoint"}
"""The config fields that name something a researcher brings, and what each is; each is read by its content."""


@dataclass(frozen=True)
class Imported:
    """An input a researcher brought: the field that names it, where it is (a hub id resolved to its local
    snapshot), its size, its content digest (``msm.store.content_digest``, which keys what is built from it)
    and its kind (corpus, demonstrations, lora_adapter, model)."""

    field: str
    location: str
    size: int
    digest: str
    kind: str
    named: str = ""  # as the config names it (a path, or a hub id)

    def as_dict(self) -> dict:
        return {"field": self.field, "named": self.named or self.location, "location": self.location,
                "bytes": self.size, "digest": self.digest, "kind": self.kind}


def brought(cfg: DictConfig) -> list[str]:
    """The import fields this (resolved) config uses: a corpus only for a job that midtrains on it,
    demonstrations only for one that trains AFT on a file, a checkpoint for a stage brought in (adapter)."""
    out = []
    if trains(cfg.midtrain.method) and cfg.datagen.documents.source is not None:
        out.append("datagen.documents.source")
    if trains(cfg.aft.method) and cfg.aft.data == AftData.file:
        out.append("aft.data_path")
    out += [f"{stage}.adapter" for stage in ("midtrain", "aft") if cfg[stage].method == TrainMethod.adapter]
    return out


def checkpoint_kind(folder: Path) -> str:
    """``lora_adapter`` (a PEFT adapter folder) or ``model`` (a transformers model folder), else an error."""
    if (folder / "adapter_config.json").is_file():
        return "lora_adapter"
    if (folder / "config.json").is_file():
        return "model"
    raise MsmError(f"{folder}: neither a PEFT adapter (adapter_config.json) nor a model folder (config.json)")


def locate(field: str, value) -> Path:
    """Where what ``field`` names is: a path (``~`` expanded, relative to the launch folder), or for a
    checkpoint a hub id, found in the local hub cache (downloaded only where the hub is reachable and
    HF_HUB_OFFLINE is not set)."""
    if value is None:
        raise MsmError(f"{field} is not set: name a file or folder" + (" or a hub id" if field.endswith("adapter") else ""))
    path = Path(str(value)).expanduser()
    if path.exists() or IMPORT_FIELDS[field] != "checkpoint" or str(value).count("/") != 1 or path.is_absolute():
        if not path.exists():
            raise MsmError(f"{field}={value}: no such file or folder")
        return path.resolve()
    from huggingface_hub import snapshot_download

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        return Path(snapshot_download(str(value), local_files_only=offline))
    except Exception as e:  # the hub's errors are many and all mean "not here"
        raise MsmError(f"{field}={value}: not a folder, and not a hub id in the local cache"
                       f"{' (HF_HUB_OFFLINE is set)' if offline else ''}: {type(e).__name__}") from None


def _imports(cfg: DictConfig, store: Store) -> tuple[Imported, ...]:
    out = []
    for name in brought(cfg):
        named = OmegaConf.select(cfg, name)
        where = locate(name, named)
        size = where.stat().st_size if where.is_file() else sum(p.stat().st_size for p in where.rglob("*") if p.is_file())
        kind = checkpoint_kind(where) if IMPORT_FIELDS[name] == "checkpoint" else IMPORT_FIELDS[name]
        out.append(Imported(name, str(where), size, content_digest(where, store.root / ".digests"), kind, str(named)))
    return tuple(out)


def uses_judge(cfg: DictConfig, stages) -> bool:
    """Whether an LLM judge grades anything: the agentic eval's responses, an inspect task's (its grader), or
    retention's over-refusal check."""
    if "eval" not in [str(s) for s in stages] or cfg.judge.backend == "none":
        return False
    return cfg.eval.kind in (EvalKind.agentic, EvalKind.inspect) or AlsoEval.retention in cfg.eval.also


@dataclass(frozen=True, eq=False)
class Job:
    """One job, resolved. ``cfg`` is read-only, with ``auto`` choices made; ``identity`` is flat and sorted."""

    cfg: DictConfig
    spec: Spec
    stages: tuple[str, ...]
    store: Store
    identity: Mapping[str, Any]
    imports: tuple[Imported, ...] = ()

    def imported(self, field: str) -> Imported:
        """What the job brought for ``field`` (one of :data:`IMPORT_FIELDS`)."""
        for imp in self.imports:
            if imp.field == field:
                return imp
        raise MsmError(f"{field} names nothing this job uses")

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
        when MSM trained a LoRA one or brought one."""
        return aft_trains(self.cfg.aft.method, starts_from_adapter(self.cfg, self.imports))

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
            "aft_data": str(cfg.aft.data) if trains(cfg.aft.method) else None,
            "aft_scale": cfg.aft_scale.rows if trains(cfg.aft.method) else None,
            "seed": self.seed,
            "eval": cfg.eval.name,
            "generator": cfg.generator.name if self.uses_generator else None,
            "datagen": cfg.datagen.name if self.uses_generator else None,
            # "none": sampled, not judged
            "judge": cfg.judge.name if cfg.eval.kind in (EvalKind.agentic, EvalKind.inspect) else None,
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
    return assemble(cfg, resolve_spec(cfg.spec.path, dict(cfg.spec.vars)), store)


def assemble(cfg: DictConfig, spec: Spec, store: Store | None = None) -> Job:
    """The job of ``cfg`` with its spec already read (the preflight checks read it among their checks)."""
    stages = stage_prefix(cfg.stages)
    cfg = copy.deepcopy(resolve_auto(cfg, spec))
    OmegaConf.set_readonly(cfg, True)
    store = store or Store(cfg.paths.store, lock_timeout_s=cfg.paths.lock_timeout_s, verify=str(cfg.store.verify))
    imports = _imports(cfg, store)
    return Job(cfg, spec, tuple(stages), store, MappingProxyType(identity(cfg, spec, stages, imports)), imports)


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


def unused(cfg: DictConfig, stages, imports: tuple[Imported, ...] = ()) -> list[str]:
    """Prefixes of the fields a job with this (resolved) config never reads, so they are not part of what it
    measures: a baseline's training settings, the data sizes of a pool it does not generate, the other
    eval kind's settings, a judge that grades nothing, the tiny model's shape for any other model."""
    out: list[str] = []

    def all_but(group: str, keep: tuple[str, ...]) -> list[str]:
        return [f"{group}.{k}" for k in OmegaConf.select(cfg, group).keys() if k not in keep]

    midtrains, aligns = trains(cfg.midtrain.method), trains(cfg.aft.method)
    msm_adapter = cfg.midtrain.method == TrainMethod.lora
    corpus_brought = "datagen.documents.source" in brought(cfg)
    if not midtrains:  # none, or a checkpoint brought in (its content digest is in the identity)
        out += all_but("midtrain", ("method",)) + ["datagen.documents"]
    elif corpus_brought:  # nothing about writing a corpus is read
        out += all_but("datagen.documents", ("source", "text_field"))
    else:
        out.append("datagen.documents.text_field")
    if midtrains and not msm_adapter:
        out.append("midtrain.lora")
    if not aligns:
        out += all_but("aft", ("method",)) + ["aft_scale", "datagen.aft"]
    else:
        start_adapter = starts_from_adapter(cfg, imports)
        if start_adapter or aft_trains(cfg.aft.method, start_adapter) != TrainMethod.lora:
            out.append("aft.lora")  # the MSM adapter carries on with its own settings, or full tuning
        if cfg.aft.data != AftData.generated:
            out.append("datagen.aft")
    if not uses_generator(cfg):
        out.append("generator")
    elif cfg.generator.backend == "offline":  # templates: only the sizes and the style shape what they write
        out += all_but("generator", ("backend",)) + all_but("datagen.aft", ("target_rows", "style"))
        if not corpus_brought:
            out += all_but("datagen.documents", ("target_documents",))
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
    if kind == EvalKind.inspect and cfg.judge.backend == "none":  # no grader to hand the task
        keep.discard("grader_arg")
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


def identity(cfg: DictConfig, spec: Spec | None, stages, imports: tuple[Imported, ...] = ()) -> dict[str, Any]:
    """The science-bearing configuration of a job, flat and sorted: every field :func:`msm.config.field_class`
    calls science, but those the job never reads (:func:`unused`), with the spec's content digest and the
    content digest of everything the job brought (``<field>_digest``: where a file lies is bookkeeping)."""
    drop = unused(cfg, stages, imports)
    out = {}
    for path, value in flatten(plain(cfg)).items():
        if field_class(path) == "bookkeeping" or any(path == p or path.startswith(p + ".") for p in drop):
            continue
        out[path] = identity_value(value)
    out[SPEC_DIGEST] = spec.digest()[:16] if spec is not None else None
    out.update({f"{imp.field}_digest": imp.digest for imp in imports})
    return dict(sorted(out.items()))
