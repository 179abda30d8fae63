"""The stage graph of one job: the only place that knows the order of stages.

    spec ──> documents ──> midtrained ──> aligned ──> eval ──> metrics.json
      └────> AFT pool ──(aft_scale rows)──┘

This file decides which stages a job needs and in which order (:func:`plan`, which computes every
artifact key before anything is built), then has the content-addressed store build or reuse each
one, and writes what the job reports into its output folder.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from msm import console, interrupts, provenance, summary, tracking
from msm.config import AlsoEval, EvalKind
from msm.data.health import as_metrics as health_metrics
from msm.errors import MsmError
from msm.evals.retention import off_target_drift
from msm.evals.target import target
from msm.hardware import cpu_threads
from msm.job import Job, trains
from msm.jsonl import atomic_write_text, write_json, write_jsonl
from msm.secrets import scrub_text
from msm.stages import checks
from msm.stages.base import ModelRef, base_model
from msm.stages.data import DATA_STAGES, aft_pool, check_health, documents, generator_weights, preview
from msm.stages.evals import (
    contamination,
    eval_samples,
    evaluated,
    inspect_logs,
    inspected,
    judged,
    retained,
    sampled,
)
from msm.stages.models import aligned, brought, midtrained
from msm.store import Artifact, Build, BuildRecord, Store

log = logging.getLogger(__name__)
STATUS_FILE = "status.json"
SIGNAL_SOURCES = "kill, timeout, scancel, a time limit or Ctrl-C"
ARTIFACTS_FILE = "artifacts.json"  # every stage the job built or reused, with its time and LLM usage
PROVENANCE_FILE = "provenance.json"  # code, packages, host and Slurm ids of the job (msm/provenance.py)


# ---- the plan: every artifact a job needs, keyed before anything is built ---------------------------


@dataclass
class JobPlan:
    """The artifacts of one job in build order (None: the job does not need it). Every key is known
    up front, because each stage's key depends only on settings and the keys of its inputs."""

    generator_weights: Build | None = None  # the embedded generator's model, converted before it writes
    documents: Build | None = None
    aft_pool: Build | None = None
    base_model: Build | None = None
    midtrain: Build | None = None
    aft: Build | None = None
    eval: Build | None = None  # the value eval (cheese) or an inspect task, of the trained model and of its base
    eval_base: Build | None = None
    samples: Build | None = None  # the agentic eval: transcripts, then their verdicts, for each model
    verdicts: Build | None = None
    samples_base: Build | None = None
    verdicts_base: Build | None = None
    retention: Build | None = None
    base: ModelRef | None = None  # the model the job starts from
    model: ModelRef | None = None  # the model it ends with (the base itself for the baseline arm)

    def builds(self) -> dict[str, Build]:
        """``{stage name: build}`` in build order, for the stages the job needs."""
        return {f.name: b for f in fields(self) if isinstance(b := getattr(self, f.name), Build)}


def plan(job: Job, log_fn: Callable[[dict], None] = lambda record: None) -> JobPlan:
    """What the job builds, in order. ``log_fn`` receives the training curves (the job's tracker)."""
    out = JobPlan()
    msm_trains, aft_trains = trains(job.cfg.midtrain.method), trains(job.cfg.aft.method)
    if msm_trains:
        out.documents = documents(job)
    if aft_trains:
        out.aft_pool = aft_pool(job)
    if any(b is not None and "generator_weights" in b.inputs for b in (out.documents, out.aft_pool)):
        out.generator_weights = generator_weights(job)
    if list(job.stages) == ["data"]:
        return out
    out.base, out.base_model = base_model(job.store, job.cfg.model)
    out.model = out.base
    if job.midtrains:  # trained on the documents, or a checkpoint the job brings (midtrain=adapter)
        out.model, out.midtrain = (midtrained(job, out.model, out.documents, log_fn) if msm_trains
                                   else brought(job, "midtrain", out.base))
    if job.aligns and ("aft" in job.stages or not aft_trains):  # a brought checkpoint sits on the base model
        out.model, out.aft = (aligned(job, out.model, out.aft_pool, log_fn) if aft_trains
                              else brought(job, "aft", out.base))
    if "eval" in job.stages and job.cfg.eval.kind == EvalKind.agentic:  # sampled once, judged by any judge
        out.samples = sampled(job, out.model, "trained")
        out.verdicts = judged(job, out.samples)
        if job.cfg.eval.include_base:
            out.samples_base = sampled(job, out.base, "base")
            out.verdicts_base = judged(job, out.samples_base)
    elif "eval" in job.stages:
        scored = inspected if job.cfg.eval.kind == EvalKind.inspect else evaluated
        out.eval = scored(job, out.model, "trained")
        if job.cfg.eval.include_base:
            out.eval_base = scored(job, out.base, "base")
    if "eval" in job.stages and AlsoEval.retention in job.cfg.eval.also:
        out.retention = retained(job, out.model, out.base)
    return out


# ---- the job ----------------------------------------------------------------------------------------


def _job_dir(output_dir: str | Path | None) -> Path:
    if output_dir is None:
        from hydra.core.hydra_config import HydraConfig

        output_dir = HydraConfig.get().runtime.output_dir
    path = Path(output_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(cfg: DictConfig, output_dir: str | Path | None = None) -> dict:
    """Run one job; return its metrics record (or the list of artifacts when stopping before eval).

    Everything that can be checked is checked first (``msm.stages.checks``): a job that cannot run
    fails before it touches the store, starts a tracker or spends a single LLM call. ``status.json``
    in the job folder says whether the job is running, finished or failed (and why), so an analysis
    of the sweep can list the jobs that produced no metrics instead of silently dropping them.
    """
    job_dir = _job_dir(output_dir)
    write_json(job_dir / STATUS_FILE, {"status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})

    def interrupted(signum: int) -> None:  # first thing on SIGTERM or SIGINT, whatever happens after
        write_json(job_dir / STATUS_FILE, {"status": "interrupted", "signal": interrupts.name(signum),
                                           "error": f"interrupted by {interrupts.name(signum)} ({SIGNAL_SOURCES}); "
                                                    "published stages and checkpoints are kept: rerun to resume"})

    try:
        with interrupts.handled(interrupted):
            record = _run(cfg, job_dir)
    except interrupts.Interrupted:
        interrupts.clear()
        raise
    except KeyboardInterrupt:
        write_json(job_dir / STATUS_FILE, {"status": "interrupted", "signal": "SIGINT",
                                           "error": "interrupted (Ctrl-C); rerun to resume"})
        raise
    except SystemExit as e:  # submitit exits this way once it has requeued a preempted or timed-out job
        write_json(job_dir / STATUS_FILE, {"status": "interrupted",
                                           "error": f"stopped (exit {e.code}): preempted or timed out? a rerun resumes"})
        raise
    except BaseException as e:
        reason = str(e) if isinstance(e, MsmError) else f"{type(e).__name__}: {e}"
        write_json(job_dir / STATUS_FILE, {"status": "failed", "error": reason or type(e).__name__})
        raise
    write_json(job_dir / STATUS_FILE, {"status": "finished", "stages": [str(s) for s in cfg.stages],
                                       "preview": bool(cfg.datagen.preview)})
    return record


def _run(cfg: DictConfig, job_dir: Path) -> dict:
    console.configure(cfg.log_level)
    job = checks.check(cfg)  # the job, resolved once (the spec read, `auto` made concrete); or every problem
    cfg = job.cfg
    import torch
    from transformers import set_seed

    threads = cpu_threads(cfg.threads)  # the CPUs this job was given, not the whole machine (msm/hardware.py)
    if threads:
        torch.set_num_threads(threads)
    set_seed(job.seed)
    origin = provenance.collect(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), os.environ)
    origin["imports"] = [imp.as_dict() for imp in job.imports]  # what the researcher brought: where, size, digest
    write_json(job_dir / PROVENANCE_FILE, origin)
    tracker = tracking.start(cfg, job_dir, job.name, group=job_dir.parent.name,
                             extra={"provenance": {k: v for k, v in origin.items() if k != "config"}})
    log.info("job %s -> %s (store %s)", job.name, job_dir, job.store.root)
    ok = False
    try:
        record = _run_stages(job, tracker, job_dir)
        ok = True
    finally:
        write_json(job_dir / ARTIFACTS_FILE, [_usage(job.store, r) for r in job.store.records])
        tracker.finish(exit_code=0 if ok else 1)
    if cfg.datagen.preview:
        print("preview only: nothing was generated at full scale or published; drop datagen.preview to run")
        return record
    if "eval" in job.stages:
        write_json(job_dir / "metrics.json", record)
    text = summary.render(record, job.store.records, job_dir, job.spec.path, cfg.summary.note, cfg.summary.next,
                          _results_dir(job_dir), list(job.stages), [imp.as_dict() for imp in job.imports])
    atomic_write_text(job_dir / summary.SUMMARY_FILE, text)
    print(scrub_text(text), end="")
    return record


def _usage(store: Store, r: BuildRecord) -> dict:
    """What one stage of the job took: built or reused, wall seconds, peak memory, and the LLM usage its
    build counted (the plan's estimate is read against these: python -m msm.sweep status)."""
    art = store.get(r.stage, r.key) if r.built else None
    return {"stage": r.stage, "key": r.key, "built": r.built, "seconds": round(r.seconds, 2),
            "peak_rss_mb": round(r.peak_rss_mb), "llm_usage": art.info.get("llm_usage") if art else None}


def in_sweep() -> bool:
    """Whether this job is one of a Hydra sweep (``-m``), local or Slurm."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _results_dir(job_dir: Path) -> Path:
    """The folder the analysis reads: the sweep's for a job of a sweep, else the job's own."""
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().sweep.dir) if in_sweep() else job_dir


def _run_stages(job: Job, tracker: tracking.Tracker, job_dir: Path) -> dict:
    cfg, spec = job.cfg, job.spec
    record: dict = job.record(job_dir)
    if cfg.datagen.preview:
        record["preview"] = preview(job)
        return record
    planned = plan(job, tracker.log)
    if problems := checks.space_problems(job, planned.builds()):
        raise checks.PreflightError(problems)
    arts: dict[str, Artifact] = {}
    published: dict[str, Artifact] = {}  # by ref: the baseline arm's two evals are one artifact
    health: dict = {}
    for name, b in planned.builds().items():
        interrupts.check()  # a Ctrl-C that a library's cleanup swallowed still stops the job here
        if b.ref not in published:
            published[b.ref] = job.store.build(b)
        arts[name] = published[b.ref]
        if name in DATA_STAGES:  # before anything trains on it: under datagen.strict a warning stops the job
            report, problems = check_health(job, name, arts[name])
            health[name] = {"artifact": str(arts[name].path), "report": report, "warnings": problems}
            record.update({**health_metrics(report, name), f"health/{name}/warnings": len(problems)})
    if health:
        write_json(job_dir / "health.json", health)
    if "documents" in arts:
        record["data/documents"] = arts["documents"].info["n_documents"]
    if "aft_pool" in arts:
        record["data/aft_pool_rows"] = arts["aft_pool"].info["rows"]
    for stage in ("midtrain", "aft"):
        if stage in arts:
            record.update(_train_stats(stage, arts[stage]))
    if "midtrain" in arts and arts["midtrain"].info.get("documents") is not None:
        record["data/midtrain_documents"] = arts["midtrain"].info["documents"]  # the dose, when one is taken
    if "aft" in arts and "rows" in arts["aft"].info:
        record["aft_scale"] = arts["aft"].info["rows"]  # a number for aft_scale=all too: the pool's size
    if "eval" not in job.stages:
        return record

    agentic = cfg.eval.kind == EvalKind.agentic
    result, result_base = ("verdicts", "verdicts_base") if agentic else ("eval", "eval_base")
    record.update(arts[result].info["metrics"])
    samples = [{**r, "model_role": "trained"} for r in eval_samples(arts[result])]
    if agentic:  # which transcripts and which grading: jobs that share transcripts compare their judges on them
        record.update({"samples/key": planned.samples.key, "verdicts/key": planned.verdicts.key})
    if result_base in arts:
        record.update({f"base/{k}": v for k, v in arts[result_base].info["metrics"].items()})
        if getattr(planned, result_base).key != getattr(planned, result).key:
            samples += [{**r, "model_role": "base"} for r in eval_samples(arts[result_base])]
        if agentic:
            record.update({"base/samples/key": planned.samples_base.key, "base/verdicts/key": planned.verdicts_base.key})
    judges = agentic and job.uses_judge
    record.update(target(cfg.eval.kind, arts[result].info["metrics"], spec.values, judges))
    if result_base in arts:
        base = target(cfg.eval.kind, arts[result_base].info["metrics"], spec.values, judges)
        record.update({f"base/{k}": v for k, v in base.items() if k in ("target/rate", "target/n")})
    if "retention" in arts:
        record.update(arts["retention"].info["metrics"])
        record.update(off_target_drift(record, spec.values))
    write_jsonl(job_dir / "samples.jsonl", samples)
    tracker.table("samples", samples)
    if cfg.eval.inspect_log:  # the same rows (and an inspect task's own logs) for `inspect view`
        inspect_logs(job, arts, job_dir)
    if cfg.eval.kind == "agentic":
        report = contamination(job, arts.get("documents"), arts.get("aft"))
        write_json(job_dir / "contamination.json", report.as_dict())
        record.update(report.as_metrics())
    # The labels and the configuration go into the summary too, so a W&B project reads back into the same
    # records (analysis/results.py): the configuration as one JSON text under "config".
    tracker.summary({**{k: v for k, v in record.items() if isinstance(v, (int, float, str))},
                     "config": json.dumps(record["config"], sort_keys=True)})
    return record


def _train_stats(stage: str, art: Artifact) -> dict:
    keep = ("loss", "loss_start", "final_loss", "steps", "tokens_seen", "tokens_per_update", "mean_step_s",
            "train_seconds", "tokens_per_s", "real_token_fraction", "model_tflops_per_s", "mfu", "hfu", "health")
    return {f"train/{stage}/{k}": art.info[k] for k in keep if art.info.get(k) is not None}
