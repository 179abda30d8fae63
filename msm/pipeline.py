"""The stage graph of one job: the only place that knows the order of stages.

    spec ──> documents ──> midtrained ──> aligned ──> eval ──> metrics.json
      └────> AFT pool ──(aft_scale rows)──┘

Every stage goes through ``msm.store``: its key is a hash of its settings and its inputs' keys, so
jobs that share an input (four seeds sharing a corpus, two specs sharing an AFT-only model) build it
once, and a rerun of a finished job builds nothing. Stage modules never see the store; this file
hands them folders and turns what they publish into model references.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from msm import tracking
from msm.config import STAGES
from msm.errors import EmptyDatasetError, MsmError
from msm.specs import Spec, load_spec
from msm.store import Store

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
ARMS = {(False, False): "baseline", (False, True): "aft_only", (True, False): "msm_only", (True, True): "msm_aft"}


@dataclass(frozen=True)
class ModelRef:
    """Weights to load: a base (folder or hub id) plus an optional LoRA adapter folder."""

    base: str
    adapter: str | None
    key: str  # what downstream stage keys depend on

    def as_dict(self) -> dict:
        return {"base": self.base, "adapter": self.adapter}


def _settings(node) -> dict:
    return OmegaConf.to_container(node, resolve=True)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _write_jsonl(path: Path, rows) -> int:
    n = 0
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
            n += 1
    return n


def _count_lines(path: Path) -> int:
    return sum(1 for line in path.open() if line.strip()) if path.exists() else 0


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def arm(cfg: DictConfig) -> str:
    return ARMS[(cfg.midtrain.method != "none", cfg.aft.method != "none")]


def stage_prefix(stages) -> list[str]:
    stages = list(stages)
    if not stages or stages != list(STAGES[: len(stages)]):
        raise MsmError(f"stages={stages} must be a non-empty prefix of {list(STAGES)}, e.g. stages=[data]")
    return stages


def resolve_spec(cfg: DictConfig) -> Spec:
    """Load the spec from an absolute path, a path relative to the launch folder, or one inside the repo."""
    raw = Path(os.path.expanduser(cfg.spec.path))
    candidates = [raw] if raw.is_absolute() else [Path.cwd() / raw, REPO / raw]
    path = next((p for p in candidates if p.is_file()), candidates[0])
    return load_spec(path)


# ---- stages ---------------------------------------------------------------------------------------


GENERATOR_CONTENT_KEYS = ("backend", "model", "temperature")
"""The generator settings that change what is generated; concurrency, retries, prices and the
server's address do not, so changing them reuses the data (and the LLM response cache)."""


def llm_client(store: Store, cfg: DictConfig):
    """The data generator's LLM client, with its response cache kept beside the artifacts."""
    if cfg.generator.backend == "offline":
        raise MsmError("this stage needs an LLM generator: generator=openai | anthropic | hf (generator=offline has none)")
    from msm.llm import make_client

    drop = {"name", "temperature"}
    settings = {k: v for k, v in _settings(cfg.generator).items() if k not in drop and v is not None}
    return make_client(settings, cache_dir=store.root / "llm_cache")


def _generator_identity(cfg: DictConfig) -> dict:
    return {k: cfg.generator[k] for k in GENERATOR_CONTENT_KEYS}


def documents(store: Store, cfg: DictConfig, spec: Spec):
    """The spec's document corpus. Independent of model, seed and aft_scale."""
    target = cfg.datagen.documents.target_documents
    if target <= 0:
        raise EmptyDatasetError(f"datagen.documents.target_documents={target}: the corpus would be empty")
    if cfg.generator.backend == "offline":
        from msm.data.offline_docs import generate_documents

        def build(work: Path) -> dict:
            docs = generate_documents(spec, target, seed=cfg.data.seed)
            _write_jsonl(work / "documents.jsonl", docs)
            return {"documents": len(docs), "words": sum(len(d["text"].split()) for d in docs), "spec": spec.id}

        settings = {"generator": "offline", "target_documents": target, "data_seed": cfg.data.seed}
        return store.build("documents", settings, {"spec": spec.digest()}, build)

    from msm.data import docgen

    client = llm_client(store, cfg)

    def build(work: Path) -> dict:
        report = docgen.generate_documents(spec, client, cfg.datagen.documents, work, seed=cfg.data.seed,
                                           temperature=cfg.generator.temperature)
        return {**report, "documents": _count_lines(work / "documents.jsonl"), "spec": spec.id}

    settings = {
        "generator": _generator_identity(cfg), "docgen": _settings(cfg.datagen.documents),
        "prompts": docgen.prompts_digest(), "data_seed": cfg.data.seed,
    }
    return store.build("documents", settings, {"spec": spec.digest()}, build)


def aft_pool(store: Store, cfg: DictConfig, spec: Spec):
    """The pool of demonstrations a job draws its aft_scale rows from: a fixed set, or generated from the spec."""
    if cfg.aft.data == "cheese":
        from msm.data.cheese import ASSET_DIR, load_aft_chats

        def build_cheese(work: Path) -> dict:
            return {"rows": _write_jsonl(work / "pool.jsonl", load_aft_chats())}

        digest = _file_digest(ASSET_DIR / "aft_chats.jsonl")
        return store.build("aft_pool", {"source": "cheese"}, {"file": digest}, build_cheese)
    if cfg.aft.data != "generated":
        raise MsmError(f"aft.data={cfg.aft.data!r}: expected cheese (the fixed cheese chats) or generated (from the spec)")

    from msm.data import aftgen

    client = llm_client(store, cfg)
    gen = cfg.datagen.aft

    def build(work: Path) -> dict:
        report = aftgen.generate_aft_pool(spec, client, gen, work, seed=cfg.data.seed, temperature=cfg.generator.temperature)
        return {**report, "rows": _count_lines(work / "pool.jsonl")}

    settings = {
        "source": "generated", "generator": _generator_identity(cfg), "aftgen": _settings(gen),
        "prompts": aftgen.prompts_digest(), "data_seed": cfg.data.seed,
        "mix": _file_digest(Path(gen.mix_path)) if gen.mix_path else None,
    }
    return store.build("aft_pool", settings, {"spec": spec.digest()}, build)


def preview(store: Store, cfg: DictConfig, spec: Spec) -> dict:
    """Run each LLM data step on a tiny slice, print samples and the estimated cost, publish nothing."""
    import tempfile

    client = llm_client(store, cfg)
    out = {}
    with tempfile.TemporaryDirectory(prefix="msm-preview-") as tmp:
        if cfg.midtrain.method != "none":
            from msm.data import docgen

            out["documents"] = docgen.generate_documents(
                spec, client, cfg.datagen.documents, Path(tmp) / "documents", seed=cfg.data.seed,
                temperature=cfg.generator.temperature, preview=True)
        if cfg.aft.method != "none" and cfg.aft.data == "generated":
            from msm.data import aftgen

            out["aft_pool"] = aftgen.generate_aft_pool(
                spec, client, cfg.datagen.aft, Path(tmp) / "aft", seed=cfg.data.seed,
                temperature=cfg.generator.temperature, preview=True)
    return out


def base_model(store: Store, model_cfg) -> ModelRef:
    """The pretrained starting point: built (tiny), converted once (SmolLM2 GGUF), or a hub id / folder."""
    from msm.train import models

    if model_cfg.source == "hub":
        if not model_cfg.name_or_path:
            raise MsmError(f"model={model_cfg.name}: source=hub needs model.name_or_path")
        return ModelRef(model_cfg.name_or_path, None, f"hub:{model_cfg.name_or_path}")
    if model_cfg.source == "tiny":
        settings = {"source": "tiny", "arch": _settings(model_cfg.arch)}
        art = store.build("base_model", settings, {}, lambda w: models.build_tiny_model(w / "model", models.TinyArch(**settings["arch"])))
    elif model_cfg.source == "smollm2_gguf":
        gguf = models.find_smollm2_gguf()
        settings = {"source": "smollm2_gguf", "file": gguf.name, "bytes": gguf.stat().st_size}
        art = store.build("base_model", settings, {}, lambda w: models.convert_smollm2(w / "model"))
    else:
        raise MsmError(f"model.source={model_cfg.source!r}: expected tiny, smollm2_gguf or hub")
    return ModelRef(str(art.path / "model"), None, f"base_model/{art.key}")


def _trained(art, parent: ModelRef) -> ModelRef:
    if art.info["saved"] == "adapter":
        return ModelRef(parent.base, str(art.path / "adapter"), f"{art.stage}/{art.key}")
    return ModelRef(str(art.path / "model"), None, f"{art.stage}/{art.key}")


def midtrained(store: Store, cfg: DictConfig, base: ModelRef, docs, tracker):
    from msm.train.stages import midtrain

    def build(work: Path) -> dict:
        return midtrain(work, base.as_dict(), docs.path / "documents.jsonl", cfg.midtrain, cfg.model, cfg.seed, tracker.log)

    settings = {"midtrain": _settings(cfg.midtrain), "max_seq_len": cfg.model.max_seq_len, "seed": cfg.seed}
    art = store.build("midtrain", settings, {"model": base.key, "documents": f"documents/{docs.key}"}, build)
    return _trained(art, base), art


def aligned(store: Store, cfg: DictConfig, start: ModelRef, pool, tracker):
    """AFT on ``aft_scale`` rows drawn from the pool with the data seed (CoT kept or stripped)."""
    from msm.data.transforms import strip_think, subsample
    from msm.train.stages import aft

    def build(work: Path) -> dict:
        rows = subsample(_read_jsonl(pool.path / "pool.jsonl"), cfg.aft_scale.rows, cfg.data.seed, what="AFT rows")
        if not cfg.aft.cot:
            rows = [strip_think(r) for r in rows]
        _write_jsonl(work / "rows.jsonl", rows)
        return aft(work, start.as_dict(), work / "rows.jsonl", cfg.aft, cfg.model, cfg.seed, tracker.log)

    settings = {
        "aft": _settings(cfg.aft), "aft_scale": cfg.aft_scale.rows, "data_seed": cfg.data.seed,
        "max_seq_len": cfg.model.max_seq_len, "seed": cfg.seed,
    }
    art = store.build("aft", settings, {"model": start.key, "pool": f"aft_pool/{pool.key}"}, build)
    return _trained(art, start), art


def evaluated(store: Store, cfg: DictConfig, ref: ModelRef, role: str):
    """Eval results for one model. Deterministic (no sampling), so the training seed is not in the key."""
    from msm.evals.cheese import evaluate
    from msm.train.models import load_model, load_tokenizer

    if cfg.eval.name != "cheese":
        raise MsmError(f"eval={cfg.eval.name!r} is not available (known: cheese)")

    def build(work: Path) -> dict:
        model = load_model(ref.base, dtype=cfg.model.dtype, adapter=ref.adapter).eval()
        tokenizer = load_tokenizer(ref.base, cfg.model.chat_template)
        metrics, rows = evaluate(model, tokenizer, cfg.eval, seed=cfg.data.seed, desc=f"eval ({role})")
        _write_jsonl(work / "samples.jsonl", rows)
        return {"metrics": metrics}

    return store.build("eval", {"eval": _settings(cfg.eval), "data_seed": cfg.data.seed}, {"model": ref.key}, build)


# ---- the job ----------------------------------------------------------------------------------------


def _job_dir(output_dir: str | Path | None) -> Path:
    if output_dir is None:
        from hydra.core.hydra_config import HydraConfig

        output_dir = HydraConfig.get().runtime.output_dir
    path = Path(output_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _identity(cfg: DictConfig, spec: Spec, job_dir: Path) -> dict:
    return {
        "spec": spec.id if cfg.spec.name == "from_file" else cfg.spec.name,
        "model": cfg.model.name,
        "arm": arm(cfg),
        "midtrain": cfg.midtrain.name,
        "aft": cfg.aft.name,
        "aft_scale": cfg.aft_scale.rows if cfg.aft.method != "none" else None,
        "seed": cfg.seed,
        "eval": cfg.eval.name,
        "generator": cfg.generator.name,
        "experiment": cfg.experiment,
        "job_dir": str(job_dir),
    }


def run(cfg: DictConfig, output_dir: str | Path | None = None) -> dict:
    """Run one job; return its metrics record (or the list of artifacts when stopping before eval)."""
    import torch
    from transformers import set_seed

    stages = stage_prefix(cfg.stages)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    set_seed(cfg.seed)
    job_dir = _job_dir(output_dir)
    spec = resolve_spec(cfg)
    store = Store(cfg.paths.store)
    ident = _identity(cfg, spec, job_dir)
    name = f"{ident['spec']}-{ident['arm']}-{ident['model']}-s{cfg.seed}"
    tracker = tracking.start(cfg, job_dir, name, group=job_dir.parent.name)
    log.info("job %s -> %s (store %s)", name, job_dir, store.root)
    ok = False
    try:
        record = _run_stages(cfg, stages, spec, store, tracker, ident)
        ok = True
    finally:
        built = [{"stage": r.stage, "key": r.key, "built": r.built, "seconds": round(r.seconds, 2)} for r in store.records]
        (job_dir / "artifacts.json").write_text(json.dumps(built, indent=2))
        tracker.finish(exit_code=0 if ok else 1)
    if cfg.datagen.preview:
        print("preview only: nothing was generated at full scale or published; drop datagen.preview to run")
    elif "eval" in stages:
        (job_dir / "metrics.json").write_text(json.dumps(record, indent=2))
        print(f"results: {job_dir / 'metrics.json'}")
    else:
        print(f"stopped after stages={stages}; artifacts listed in {job_dir / 'artifacts.json'}")
    return record


def _run_stages(cfg, stages, spec, store, tracker, ident) -> dict:
    train_msm, train_aft = cfg.midtrain.method != "none", cfg.aft.method != "none"
    record: dict = dict(ident)
    if cfg.datagen.preview:
        record["preview"] = preview(store, cfg, spec)
        return record
    docs = documents(store, cfg, spec) if train_msm else None
    pool = aft_pool(store, cfg, spec) if train_aft else None
    if docs:
        record["data/documents"] = docs.info["documents"]
    if pool:
        record["data/aft_pool_rows"] = pool.info["rows"]
    if stages == ["data"]:
        return record

    base = base_model(store, cfg.model)
    model = base
    if train_msm:
        model, art = midtrained(store, cfg, base, docs, tracker)
        record.update(_train_stats("midtrain", art))
    if "aft" in stages and train_aft:
        model, art = aligned(store, cfg, model, pool, tracker)
        record.update(_train_stats("aft", art))
    if "eval" not in stages:
        return record

    result = evaluated(store, cfg, model, role=ident["arm"])
    record.update(result.info["metrics"])
    samples = [{**r, "model_role": "trained"} for r in _read_jsonl(result.path / "samples.jsonl")]
    if cfg.eval.include_base:
        base_result = result if model == base else evaluated(store, cfg, base, role="base")
        record.update({f"base/{k}": v for k, v in base_result.info["metrics"].items()})
        if model != base:
            samples += [{**r, "model_role": "base"} for r in _read_jsonl(base_result.path / "samples.jsonl")]
    _write_jsonl(Path(ident["job_dir"]) / "samples.jsonl", samples)
    tracker.summary({k: v for k, v in record.items() if isinstance(v, (int, float))})
    return record


def _train_stats(stage: str, art) -> dict:
    keep = ("loss", "final_loss", "steps", "tokens_seen", "mean_step_s", "train_seconds")
    return {f"train/{stage}/{k}": art.info[k] for k in keep if art.info.get(k) is not None}
