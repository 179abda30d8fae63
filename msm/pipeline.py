"""The stage graph of one job: the only place that knows the order of stages.

    spec ──> documents ──> midtrained ──> aligned ──> eval ──> metrics.json
      └────> AFT pool ──(aft_scale rows)──┘

Each stage is built (or reused) through ``msm.stages`` and the content-addressed store; this file
decides which stages a job needs, in which order, and what the job writes to its output folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from msm import stages as st
from msm import tracking
from msm.config import STAGES
from msm.errors import MsmError
from msm.jsonl import write_json, write_jsonl
from msm.specs import Spec
from msm.store import Store

log = logging.getLogger(__name__)
ARMS = {(False, False): "baseline", (False, True): "aft_only", (True, False): "msm_only", (True, True): "msm_aft"}


def arm(cfg: DictConfig) -> str:
    return ARMS[(cfg.midtrain.method != "none", cfg.aft.method != "none")]


def stage_prefix(stages) -> list[str]:
    stages = list(stages)
    if not stages or stages != list(STAGES[: len(stages)]):
        raise MsmError(f"stages={stages} must be a non-empty prefix of {list(STAGES)}, e.g. stages=[data]")
    return stages


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
    spec = st.resolve_spec(cfg)
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
        write_json(job_dir / "artifacts.json", built)
        tracker.finish(exit_code=0 if ok else 1)
    if cfg.datagen.preview:
        print("preview only: nothing was generated at full scale or published; drop datagen.preview to run")
    elif "eval" in stages:
        write_json(job_dir / "metrics.json", record)
        print(f"results: {job_dir / 'metrics.json'}")
    else:
        print(f"stopped after stages={stages}; artifacts listed in {job_dir / 'artifacts.json'}")
    return record


def _run_stages(cfg, stages, spec, store, tracker, ident) -> dict:
    train_msm, train_aft = cfg.midtrain.method != "none", cfg.aft.method != "none"
    record: dict = dict(ident)
    if cfg.datagen.preview:
        record["preview"] = st.preview(store, cfg, spec)
        return record
    if "eval" in stages:
        st.check_sampler(cfg)
    docs = st.documents(store, cfg, spec) if train_msm else None
    pool = st.aft_pool(store, cfg, spec) if train_aft else None
    if docs:
        record["data/documents"] = docs.info["n_documents"]
    if pool:
        record["data/aft_pool_rows"] = pool.info["rows"]
    if stages == ["data"]:
        return record

    base = st.base_model(store, cfg.model)
    model, aft_art = base, None
    if train_msm:
        model, art = st.midtrained(store, cfg, base, docs, tracker)
        record.update(_train_stats("midtrain", art))
    if "aft" in stages and train_aft:
        model, aft_art = st.aligned(store, cfg, model, pool, tracker)
        record.update(_train_stats("aft", aft_art))
    if "eval" not in stages:
        return record

    job_dir = Path(ident["job_dir"])
    result = st.evaluated(store, cfg, model, ident["arm"], spec)
    record.update(result.info["metrics"])
    samples = [{**r, "model_role": "trained"} for r in st.eval_samples(result)]
    if cfg.eval.include_base:
        base_result = result if model == base else st.evaluated(store, cfg, base, "base", spec)
        record.update({f"base/{k}": v for k, v in base_result.info["metrics"].items()})
        if model != base:
            samples += [{**r, "model_role": "base"} for r in st.eval_samples(base_result)]
    write_jsonl(job_dir / "samples.jsonl", samples)
    if cfg.eval.name == "agentic":
        report = st.contamination(cfg, spec, docs, aft_art)
        write_json(job_dir / "contamination.json", report.as_dict())
        record.update(report.as_metrics())
    tracker.summary({k: v for k, v in record.items() if isinstance(v, (int, float))})
    return record


def _train_stats(stage: str, art) -> dict:
    keep = ("loss", "final_loss", "steps", "tokens_seen", "mean_step_s", "train_seconds")
    return {f"train/{stage}/{k}": art.info[k] for k in keep if art.info.get(k) is not None}
