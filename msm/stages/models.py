"""The model stages: midtraining (MSM) and alignment (AFT), on the base model of :mod:`msm.stages.base`.

A trained stage publishes only a LoRA adapter when it can and points at the base it sits on, so its
reference (:class:`ModelRef`) is known from the settings before anything is trained: the whole job
can be planned, and its keys computed, without building a thing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from msm.config import TRAIN_OPERATIONAL, TrainMethod
from msm.job import Job
from msm.jsonl import read_jsonl, write_jsonl
from msm.models import chat_template_digest
from msm.stages.base import WEIGHTS, ModelRef
from msm.stages.common import plain
from msm.stages.data import CORPUS
from msm.store import Build, Store

LogFn = Callable[[dict], None]

ROWS = "rows"
"""What the AFT stage publishes beside its weights: the demonstrations it trained on (``aft_scale`` rows)."""
DOSE = "documents"
"""What the midtraining stage publishes beside its weights when it takes a dose of the corpus: those documents."""


def _train_settings(stage_cfg) -> dict:
    """What of a training stage's settings goes into its key: all but ``msm.config.TRAIN_OPERATIONAL``.
    ``processes`` only when above 1, ``sharding`` only when on and a dose only when set: N workers, sharded or
    not, compute the same update up to float rounding, and a key from before these settings stays what it was."""
    settings = {k: v for k, v in plain(stage_cfg).items() if k not in TRAIN_OPERATIONAL}
    if settings.get("processes") == 1:
        del settings["processes"]
    if settings.get("sharding") == "none":
        del settings["sharding"]
    for added in ("max_tokens", "adapter", "data_path"):  # newer than the keys they would change: only when set
        if added in settings and settings[added] is None:
            del settings[added]
    return settings


def _trained(store: Store, b: Build, parent: ModelRef, method: TrainMethod) -> ModelRef:
    """Where a trained stage's weights will be: a LoRA adapter on the parent's base, or a whole model."""
    folder = str(store.output(b, WEIGHTS))
    return ModelRef(parent.base, folder, b.ref) if method == TrainMethod.lora else ModelRef(folder, None, b.ref)


def brought(job: Job, stage: str, base: ModelRef) -> tuple[ModelRef, Build]:
    """A checkpoint the job brings (``<stage>=adapter <stage>.adapter=...``) as the stage's artifact: copied into
    the store (hard links where the filesystem allows), keyed by its content, a LoRA adapter sitting on the
    job's base model (which preflight checked it fits) or a whole model standing alone."""
    from msm.train import imported, recipes

    imp = job.imported(f"{stage}.adapter")
    lora = imp.kind == "lora_adapter"
    weights = recipes.weights_folder(TrainMethod.lora if lora else TrainMethod.full)
    settings = {"source": "import", "digest": imp.digest, "kind": imp.kind}

    def build(work: Path) -> dict:
        imported.copy_checkpoint(Path(imp.location), work / weights)
        return {"imported": imp.as_dict(), "kind": imp.kind}

    b = Build(stage, settings, {"model": base.key} if lora else {}, imported.VERSION, build, {WEIGHTS: weights})
    folder = str(job.store.output(b, WEIGHTS))
    return (ModelRef(base.base, folder, b.ref) if lora else ModelRef(folder, None, b.ref)), b


def midtrained(job: Job, base: ModelRef, docs: Build, log: LogFn) -> tuple[ModelRef, Build]:
    """MSM: next-token loss over the spec's documents (or a dose of them), on top of the base model."""
    from msm.data.transforms import dose, versions
    from msm.train import distributed, loop, recipes

    cfg, store = job.cfg, job.store
    documents_file = store.output(docs, CORPUS)
    dosed = cfg.midtrain.max_documents is not None or cfg.midtrain.max_tokens is not None
    transforms = (dose, *recipes.MIDTRAIN_TRANSFORMS) if dosed else recipes.MIDTRAIN_TRANSFORMS
    settings = {"midtrain": _train_settings(cfg.midtrain), "max_seq_len": cfg.model.max_seq_len, "seed": cfg.seed,
                "code": {"loop": loop.VERSION, "transforms": versions(*transforms)}}
    inputs = {"model": base.key, "documents": docs.ref}
    publishes = {WEIGHTS: recipes.weights_folder(cfg.midtrain.method), **({DOSE: "documents.jsonl"} if dosed else {})}

    def build(work: Path) -> dict:
        source = documents_file
        if dosed:  # the dose, in the corpus's fixed order: nested in every larger dose of the same corpus
            source = work / publishes[DOSE]
            write_jsonl(source, dose(read_jsonl(documents_file), cfg.midtrain.max_documents, cfg.midtrain.max_tokens,
                                     cfg.data.seed, _token_counter(base, cfg)))
        return distributed.run("midtrain", work, base.as_dict(), source, cfg.midtrain, cfg.model, cfg.seed,
                               log, cfg.train)

    b = Build("midtrain", settings, inputs, recipes.MIDTRAIN_VERSION, build, publishes)
    return _trained(store, b, base, cfg.midtrain.method), b


def _token_counter(base: ModelRef, cfg):
    """Tokens of a document as midtraining counts them (its text, then EOS), by the base model's tokenizer."""
    from msm.data.transforms import tokenize_document
    from msm.models import load_tokenizer

    tokenizer = load_tokenizer(base.base, cfg.model.chat_template)
    return lambda text: len(tokenize_document({"text": text}, tokenizer)["input_ids"])


def aligned(job: Job, start: ModelRef, pool: Build, log: LogFn) -> tuple[ModelRef, Build]:
    """AFT on ``aft_scale`` rows drawn from the pool with the data seed (CoT kept or stripped), continuing
    the midtrained adapter when there is one (``job.aft_method``)."""
    from msm.data.transforms import strip_think, subsample, versions
    from msm.train import distributed, loop, recipes

    cfg, store = job.cfg, job.store
    pool_file = store.output(pool, CORPUS)
    row_transforms = (subsample,) if cfg.aft.cot else (subsample, strip_think)
    settings = {
        "aft": _train_settings(cfg.aft), "aft_scale": cfg.aft_scale.rows, "data_seed": cfg.data.seed,
        "max_seq_len": cfg.model.max_seq_len, "chat_template": chat_template_digest(cfg.model.chat_template),
        "seed": cfg.seed,
        "code": {"loop": loop.VERSION, "transforms": versions(*row_transforms, *recipes.AFT_TRANSFORMS)},
    }
    inputs = {"model": start.key, "pool": pool.ref}
    publishes = {WEIGHTS: recipes.weights_folder(job.aft_method), ROWS: "rows.jsonl"}

    def build(work: Path) -> dict:
        rows = subsample(read_jsonl(pool_file), cfg.aft_scale.rows, cfg.data.seed, what="AFT rows")
        if not cfg.aft.cot:
            rows = [strip_think(r) for r in rows]
        write_jsonl(work / publishes[ROWS], rows)
        return distributed.run("aft", work, start.as_dict(), work / publishes[ROWS], cfg.aft, cfg.model, cfg.seed, log,
                               cfg.train)

    b = Build("aft", settings, inputs, recipes.AFT_VERSION, build, publishes)
    return _trained(store, b, start, job.aft_method), b
