"""The eval stage (one model's results, published like any other artifact) and reading results back."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from omegaconf import DictConfig

from msm.config import EVAL_FIELDS, EvalKind
from msm.job import Job
from msm.jsonl import read_jsonl, write_jsonl
from msm.models import chat_template_digest
from msm.stages.base import ModelRef
from msm.stages.common import llm_cache, llm_client, llm_identity, plain
from msm.stages.data import CORPUS
from msm.stages.models import ROWS
from msm.store import Artifact, Build, files_digest

SAMPLES = {"samples": "samples.jsonl"}
"""What an eval publishes: one graded row per item or sample."""
RESPONSES = {"responses": "responses.jsonl"}
"""What the retention eval publishes: the over-refusal check's responses."""


def evaluated(job: Job, ref: ModelRef, role: str) -> Build:
    """The value eval for one model: ``metrics`` in the manifest, one row per item in samples.jsonl. It is
    deterministic, so its key holds no training seed and the base model is scored once for every seed.
    ``role`` (trained or base) only labels the progress bar. (The agentic eval is :func:`sampled`, then
    :func:`judged`.)"""
    from msm.data.cheese import item_files
    from msm.evals import cheese

    cfg = job.cfg
    ev = plain(cfg.eval)
    settings = {"eval": {k: ev[k] for k in EVAL_FIELDS[EvalKind.cheese]}, "data_seed": cfg.data.seed,
                "chat_template": chat_template_digest(cfg.model.chat_template),
                "items": files_digest(item_files(list(cfg.eval.item_files)))}  # their content, wherever they are

    def build(work: Path) -> dict:
        from msm.evals.cheese import evaluate
        from msm.models import load_model, load_tokenizer

        model = load_model(ref.base, dtype=cfg.model.dtype, adapter=ref.adapter).eval()
        tokenizer = load_tokenizer(ref.base, cfg.model.chat_template)
        metrics, rows = evaluate(model, tokenizer, cfg.eval, seed=cfg.data.seed, desc=f"eval ({role})")
        write_jsonl(work / SAMPLES["samples"], rows)
        return {"metrics": metrics}

    return Build("eval", settings, {"model": ref.key}, cheese.VERSION, build, SAMPLES)


SAMPLED_FIELDS = tuple(k for k in EVAL_FIELDS[EvalKind.agentic] if k != "kind")
"""What of the agentic eval's settings shapes the transcripts (grid, personas, sampling, sampler)."""


def sampled(job: Job, ref: ModelRef, role: str) -> Build:
    """The agentic eval's transcripts for one model (``samples``): every condition of the grid (and persona),
    sampled with the training seed. Keyed by the model, the grid and scenario files, the sampling settings and
    the seed, never by a judge: every judge grades the same transcripts (:func:`judged`)."""
    from msm.evals.agentic import run as agentic_run
    from msm.evals.agentic.assemble import SCENARIO_DIR

    cfg = job.cfg
    ev = plain(cfg.eval)
    settings = {"eval": {k: ev[k] for k in SAMPLED_FIELDS}, "seed": cfg.seed, "data_seed": cfg.data.seed,
                "chat_template": chat_template_digest(cfg.model.chat_template),
                "scenarios": files_digest(SCENARIO_DIR.glob("*.yaml"))}
    if cfg.eval.sampler == "vllm":
        settings["eval"]["vllm"] = {k: v for k, v in ev["vllm"].items() if k != "python"}

    def build(work: Path) -> dict:
        rows = agentic_run.sample_grid(_sampler(cfg, ref, work), cfg.eval)
        write_jsonl(work / SAMPLES["samples"], rows)
        shutil.rmtree(work / "vllm", ignore_errors=True)  # raw token ids, kept only to resume a failed sampling
        return {"transcripts": len(rows), "role": role}

    return Build("samples", settings, {"model": ref.key}, agentic_run.SAMPLES_VERSION, build, SAMPLES)


def judged(job: Job, samples: Build) -> Build:
    """The agentic eval's verdicts on one set of transcripts (``verdicts``): evidence and actions always, the
    judge's verdicts when there is a judge; ``metrics`` in the manifest, the graded rows in samples.jsonl.
    Keyed by the transcripts, the judge's identity and the rubric files (and the spec, whose rules the
    policy-misuse judge reads): a new judge or an edited rubric grades again and samples nothing."""
    from msm.evals.agentic import run as agentic_run
    from msm.evals.agentic.verdicts import RUBRIC_DIR

    cfg, spec = job.cfg, job.spec
    judges = job.uses_judge
    settings = {"judge": llm_identity(cfg, "judge") if judges else None,
                "rubrics": files_digest(RUBRIC_DIR.glob("*.md")) if judges else None,
                "policy_misuse": bool(cfg.eval.policy_misuse) if judges else None}
    inputs = {"samples": samples.ref}
    if judges and cfg.eval.policy_misuse:
        inputs["spec"] = spec.digest()  # the policy-misuse judge reads the spec's rules; nothing else does
    samples_file = job.store.output(samples, "samples")

    def build(work: Path) -> dict:
        from msm.evals.agentic.run import judge_samples, spec_rules_text

        judge = llm_client(cfg, "judge") if judges else None
        metrics, rows = judge_samples(read_jsonl(samples_file), cfg.eval, judge=judge, judge_cfg=cfg.judge,
                                      spec_rules=spec_rules_text(spec))
        write_jsonl(work / SAMPLES["samples"], rows)
        info = {"metrics": metrics, "samples": samples.key}
        if judge is not None:  # what the judging cost, beside the plan's estimate (python -m msm.sweep status)
            info["llm_usage"] = judge.usage.as_dict()
        return info

    return Build("verdicts", settings, inputs, agentic_run.VERDICTS_VERSION, build, SAMPLES)


INSPECT = {"samples": "samples.jsonl", "logs": "logs"}
"""What an inspect eval publishes: one row per sample and epoch, and inspect's ``.eval`` logs, one per condition."""


def inspected(job: Job, ref: ModelRef, role: str) -> Build:
    """An inspect_ai task on one model (``eval=inspect``): every condition of ``eval.task_grid`` run through
    inspect's own providers, ``metrics`` in the manifest, inspect's logs kept in the artifact. Keyed by the
    model, the task (its name, arguments and grid, and the code behind it: the file's content or the
    package's version), the sampling settings, the seed and the grader (msm's judge)."""
    from msm.evals import inspect_task

    cfg = job.cfg
    ev = plain(cfg.eval)
    grades = job.uses_judge
    settings = {"eval": {k: ev[k] for k in EVAL_FIELDS[EvalKind.inspect] if k != "grader_arg" or grades},
                "source": inspect_task.task_source(ev["task"]), "seed": cfg.seed,
                "chat_template": chat_template_digest(cfg.model.chat_template),
                "grader": llm_identity(cfg, "judge") if grades else None}

    def build(work: Path) -> dict:
        from contextlib import nullcontext

        from msm.evals.serving import servable, transformers_serve
        from msm.hardware import cpu_threads
        from msm.models import default_device, read_chat_template

        conds = inspect_task.conditions(ev["task_args"], ev["task_grid"])
        template = read_chat_template(cfg.model.chat_template) if cfg.model.chat_template else None
        server = nullcontext(ev["sampler_base_url"])
        if cfg.eval.sampler == "serve":  # msm's own server for this stage: the adapter merged into its base
            folder = servable(ref.base, ref.adapter, work / "served_model", dtype=str(cfg.model.dtype),
                              chat_template=cfg.model.chat_template)
            server = transformers_serve(folder, device=default_device(), log_path=work / "serve.log",
                                        threads=cpu_threads(cfg.threads))
        with server as base_url:
            if cfg.eval.sampler in ("openai", "serve"):
                name = ev["sampler_model"] if cfg.eval.sampler == "openai" else str(folder)
                model = inspect_task.served_model(name, base_url)
            else:
                model = inspect_task.hf_model(ref.base, ref.adapter, label=f"msm-{role}", chat_template=template,
                                              dtype=str(cfg.model.dtype), batch_size=cfg.eval.batch_size,
                                              device=default_device())
            logs = inspect_task.run(ev["task"], conds, model, grader_model=inspect_task.grader(plain(cfg.judge))
                                    if grades else None, grader_arg=ev["grader_arg"], log_dir=work / INSPECT["logs"],
                                    epochs=ev["samples_per_condition"] or 1, seed=cfg.seed,
                                    generate={"temperature": ev["temperature"], "max_tokens": ev["max_new_tokens"]})
        shutil.rmtree(work / "served_model", ignore_errors=True)  # a merged copy of the weights, only for the server
        rows = inspect_task.read(logs, conds)
        metrics = inspect_task.summarize(ev["task"], rows, conds)
        write_jsonl(work / INSPECT["samples"], rows)
        return {"metrics": metrics, "role": role, "task": ev["task"]}

    return Build("inspect", settings, {"model": ref.key}, inspect_task.VERSION, build, INSPECT)


def retained(job: Job, ref: ModelRef, base: ModelRef) -> Build:
    """Retention of the trained model against its base (``eval.also=[retention]``): one artifact holding both
    models' numbers (its divergence needs the two side by side): KL and bits per byte on general text,
    forced-choice capability, rule-based over-refusal (its responses in ``responses.jsonl``)."""
    from msm.evals import retention

    cfg = job.cfg
    judged = job.uses_judge
    settings = {"retention": plain(cfg.eval.retention), "precision": str(cfg.eval.precision),
                "files": files_digest(retention.FILES), "judge": llm_identity(cfg, "judge") if judged else None}

    def build(work: Path) -> dict:
        from msm.models import load_model, load_tokenizer, use_bf16_autocast

        model = load_model(ref.base, dtype=cfg.model.dtype, adapter=ref.adapter).eval()
        if ref.key == base.key:  # the untrained arm: its own base
            other = model
        elif ref.adapter is not None and ref.base == base.base and base.adapter is None:
            other = None  # a LoRA on the base: the base is the same weights with the adapter off
        else:
            other = load_model(base.base, dtype=cfg.model.dtype, adapter=base.adapter).eval()
        tokenizer = load_tokenizer(ref.base, cfg.model.chat_template)
        r, bf16 = cfg.eval.retention, use_bf16_autocast(cfg.eval.precision, model)
        metrics = retention.score(model, tokenizer, retention.load_texts(r.max_texts), base=other,
                                  batch_size=r.batch_size, max_len=r.max_len, bf16=bf16)
        metrics.update(retention.capability(model, tokenizer, retention.load_capability(r.max_capability_items),
                                            base=other, batch_size=r.batch_size, bf16=bf16))
        refusals, rows = retention.over_refusal(model, tokenizer, retention.load_over_refusal(r.max_refusal_prompts),
                                                base=other, batch_size=r.batch_size,
                                                max_new_tokens=r.refusal_max_new_tokens, bf16=bf16,
                                                judge=llm_client(cfg, "judge") if judged else None,
                                                judge_cfg=cfg.judge)
        write_jsonl(work / RESPONSES["responses"], rows)
        return {"metrics": {**metrics, **refusals}}

    return Build("retention", settings, {"model": ref.key, "base": base.key}, retention.VERSION, build, RESPONSES)


def _sampler(cfg: DictConfig, ref: ModelRef, work: Path):
    """``sample(prompts, n, temperature=, max_new_tokens=)`` for the model under test, by ``eval.sampler``."""
    from msm.evals import sampling
    from msm.models import load_model, load_tokenizer, use_bf16_autocast

    if cfg.eval.sampler == "openai":
        from msm.llm import make_client

        client = make_client({"backend": "openai", "model": cfg.eval.sampler_model, "base_url": cfg.eval.sampler_base_url},
                             cache_dir=llm_cache(cfg))
        return partial(sampling.sample_served, client)
    tokenizer = load_tokenizer(ref.base, cfg.model.chat_template)
    if cfg.eval.sampler == "vllm":
        return partial(sampling.sample_vllm, tokenizer, ref.as_dict(), seed=cfg.seed, work=work / "vllm",
                       dtype=str(cfg.model.dtype), engine=plain(cfg.eval.vllm))
    model = load_model(ref.base, dtype=cfg.model.dtype, adapter=ref.adapter).eval()
    return partial(sampling.sample_hf, model, tokenizer, batch_size=cfg.eval.batch_size, seed=cfg.seed,
                   bf16=use_bf16_autocast(cfg.eval.precision, model))


# ---- reading published artifacts ------------------------------------------------------------------


def eval_samples(art: Artifact) -> list[dict]:
    """The graded rows of a published eval artifact."""
    return read_jsonl(art.file("samples"))


INSPECT_DIR = "inspect"
"""The job folder's inspect logs: ``inspect view --log-dir <job or sweep folder>`` lists them."""


def inspect_logs(job: Job, arts: Mapping[str, Artifact], job_dir: Path) -> list[Path]:
    """Every eval result of the job as inspect logs under ``<job>/inspect/``: an inspect task's own logs linked
    from its artifact (``<role>/<condition>.eval``), msm's agentic transcripts and value-eval items exported
    (``agentic-<role>.eval``, ``value-<role>.eval``). Rewritten on every run from what the store holds."""
    from msm.evals import inspect_export

    out = job_dir / INSPECT_DIR
    shutil.rmtree(out, ignore_errors=True)
    written: list[Path] = []
    kind = job.cfg.eval.kind
    model = job.cfg.model.name
    for stage, role in (("eval", "trained"), ("eval_base", "base"), ("verdicts", "trained"),
                        ("verdicts_base", "base")):
        art = arts.get(stage)
        if art is None:
            continue
        if kind == EvalKind.inspect:
            for log in sorted(art.file("logs").glob("*.eval")):
                written.append(_link(log, out / role / log.name))
        elif kind == EvalKind.agentic:
            from msm.evals.agentic.run import grid_prompts

            prompts = {p["id"]: p for p in grid_prompts(job.cfg.eval.grid, list(job.cfg.eval.personas))}
            written.append(inspect_export.agentic(eval_samples(art), prompts, art.info["metrics"],
                                                  out / f"agentic-{role}.eval", model=model, role=role,
                                                  judge=job.cfg.judge.name if job.uses_judge else None))
        else:
            written.append(inspect_export.value(eval_samples(art), art.info["metrics"], out / f"value-{role}.eval",
                                                model=model, role=role))
    return written


def _link(source: Path, dest: Path) -> Path:
    """``dest`` as a hard link to ``source`` (a copy across file systems): a plain file every log reader lists."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
    return dest


def contamination(job: Job, docs: Artifact | None, aft: Artifact | None):
    """N-gram overlap between a job's training corpora (the whole document corpus, the AFT rows it trained
    on) and its agentic eval prompts."""
    from msm.evals.agentic.run import grid_prompt_texts
    from msm.evals.contamination import check

    training = {
        "documents": read_jsonl(docs.file(CORPUS)) if docs else [],
        "aft": read_jsonl(aft.file(ROWS)) if aft and ROWS in aft.publishes else [],  # a brought model has none
    }
    return check(training, grid_prompt_texts(job.cfg.eval.grid), n=job.cfg.eval.contamination_n,
                 ignore=[r.text for r in job.spec.rules])
