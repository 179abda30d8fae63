"""The data stages: the spec's document corpus and the pool of AFT demonstrations.

Both depend on the spec, the generator and the fixed data seed, never on the model, the training
seed or ``aft_scale``: every cell of a sweep that shares a spec shares its data. Each publishes its
corpus-health report (``msm.data.health``) in its manifest, and :func:`check_health` holds it against
``datagen.health`` before any training. Each publishes its rows as :data:`CORPUS`, the name every later
reader (training, the health check, the contamination report, the estimate) asks the artifact for.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from msm.errors import EmptyDatasetError, MsmError
from msm.job import Job, trains
from msm.jsonl import count_lines, read_jsonl, write_jsonl
from msm.llm import LLMClient
from msm.specs import Spec
from msm.stages.base import EMBEDDED_NAME, WEIGHTS, embedded_weights
from msm.stages.common import llm_client, llm_identity, plain
from msm.store import Artifact, Build, files_digest

log = logging.getLogger(__name__)

CORPUS = "corpus"
"""What both data stages publish: the documents, or the pool of AFT chats, one JSON row each."""
DATA_STAGES = ("documents", "aft_pool")
CONTROL_POOLS = ("value_choices", "value_choices_shuffled")  # the value eval's controls (msm.data.controls)
PACKAGED_POOLS = ("cheese", *CONTROL_POOLS)  # aft.data values whose rows msm ships
# A packaged pool's short templated rows are the experiment's design: its diversity and rule coverage are
# measured, not judged. Leakage and eval overlap (contamination) are judged as for any corpus.
PACKAGED_POOL_THRESHOLDS = {"min_distinct_2": 0.0, "max_self_similarity": 1.0, "max_near_duplicate_rate": 1.0,
                            "min_rows_per_rule": 0}
DOCUMENTS = {CORPUS: "documents.jsonl"}
POOL = {CORPUS: "pool.jsonl"}


def generator_weights(job: Job) -> Build | None:
    """The build of the generator's own weights, where they live in the store: the embedded SmolLM2
    (``generator=embedded``, i.e. the hf backend with ``model: embedded``), converted once and shared with
    ``model=smollm2_135m``. A data stage it writes names it among its inputs."""
    g = job.cfg.generator
    return embedded_weights(job.store)[1] if g.backend == "hf" and g.model == EMBEDDED_NAME else None


def _generator(job: Job) -> LLMClient:
    """The generator's client; the embedded model's weights are converted first when the store lacks them."""
    weights = generator_weights(job)
    if weights is not None and not job.store.has(weights):  # a preview, or a data stage built on its own
        job.store.build(weights)
    return llm_client(job.cfg, weights=None if weights is None else (weights.ref, job.store.output(weights, WEIGHTS)))


def _writer_inputs(job: Job) -> dict:
    weights = generator_weights(job)
    return {"spec": job.spec.digest(), **({"generator_weights": weights.ref} if weights else {})}


def documents(job: Job) -> Build:
    """The spec's document corpus: templated offline, written by the LLM generator, or brought by the
    researcher (``datagen.documents.source``)."""
    cfg, spec = job.cfg, job.spec
    if cfg.datagen.documents.source is not None:
        return _imported_documents(job)
    target = cfg.datagen.documents.target_documents
    inputs = {"spec": spec.digest()}

    if cfg.generator.backend == "offline":
        from msm.data import offline_docs

        settings = {"generator": "offline", "target_documents": target, "data_seed": cfg.data.seed,
                    "templates": files_digest([offline_docs.TEMPLATES_PATH])}

        def build_offline(work: Path) -> dict:
            docs = offline_docs.generate_documents(spec, target, seed=cfg.data.seed)
            write_jsonl(work / DOCUMENTS[CORPUS], docs)
            return {"n_documents": len(docs), "words": sum(len(d["text"].split()) for d in docs), "spec": spec.id,
                    "corpus_health": _health(docs, spec)}

        return Build("documents", settings, inputs, offline_docs.VERSION, build_offline, DOCUMENTS)

    from msm.data import docgen

    writing = {k: v for k, v in plain(cfg.datagen.documents).items() if k not in ("source", "text_field")}
    settings = {"generator": llm_identity(cfg), "docgen": writing,
                "prompts": docgen.prompts_digest(), "data_seed": cfg.data.seed}

    def build(work: Path) -> dict:
        client = _generator(job)
        report = docgen.generate_documents(spec, client, cfg.datagen.documents, work, seed=cfg.data.seed,
                                           temperature=cfg.generator.temperature, structured=cfg.generator.structured)
        kept = count_lines(work / DOCUMENTS[CORPUS])
        if kept == 0:
            raise EmptyDatasetError(f"the generator ({client.endpoint}) produced no usable document for spec "
                                    f"{spec.id!r}: {_why_empty(client, report)}; nothing was published")
        counts = report.get("documents") or {}
        return {**report, "n_documents": kept, "spec": spec.id, "llm_usage": report["total_usage"],
                "corpus_health": _health(read_jsonl(work / DOCUMENTS[CORPUS]), spec, counts.get("truncated"),
                                  counts.get("generated"))}

    return Build("documents", settings, _writer_inputs(job), docgen.VERSION, build, DOCUMENTS)


def aft_pool(job: Job) -> Build:
    """The demonstrations a job draws its ``aft_scale`` rows from: the fixed cheese chats, the value eval's
    controls (msm.data.controls), rows the researcher brought (``aft.data=file``), or generated from the spec
    (templated offline, or by the LLM generator)."""
    cfg, spec = job.cfg, job.spec
    if cfg.aft.data == "file":
        return _imported_pool(job)
    if cfg.aft.data == "cheese":
        from msm.data import cheese

        def build_cheese(work: Path) -> dict:  # a fixed pool, no spec's: coverage is not asked of it
            chats = cheese.load_aft_chats()
            return {"rows": write_jsonl(work / POOL[CORPUS], chats), "corpus_health": _health(chats, None)}

        settings = {"source": "cheese", "file": files_digest([cheese.AFT_CHATS_FILE])}
        return Build("aft_pool", settings, {}, cheese.VERSION, build_cheese, POOL)

    if cfg.aft.data in CONTROL_POOLS:
        from msm.data import controls

        def build_control(work: Path) -> dict:
            chats = controls.control_chats(str(cfg.aft.data), cfg.data.seed)
            return {"rows": write_jsonl(work / POOL[CORPUS], chats), "corpus_health": _health(chats, None)}

        settings = {"source": str(cfg.aft.data), "file": files_digest([controls.SOURCE]), "data_seed": cfg.data.seed}
        return Build("aft_pool", settings, {}, controls.VERSION, build_control, POOL)

    gen = cfg.datagen.aft
    inputs = {"spec": spec.digest()}
    if cfg.generator.backend == "offline":
        from msm.data import offline_aft

        settings = {"source": "generated", "generator": "offline", "target_rows": gen.target_rows,
                    "style": plain(gen.style), "data_seed": cfg.data.seed,
                    "templates": files_digest([offline_aft.TEMPLATES_PATH])}

        def build_offline(work: Path) -> dict:
            rows = offline_aft.generate_aft_pool(spec, gen.target_rows, seed=cfg.data.seed, style=gen.style)
            return {"rows": write_jsonl(work / POOL[CORPUS], rows), "spec": spec.id, "corpus_health": _health(rows, spec)}

        return Build("aft_pool", settings, inputs, offline_aft.VERSION, build_offline, POOL)

    from msm.data import aftgen

    settings = {"source": "generated", "generator": llm_identity(cfg), "aftgen": plain(gen),
                "prompts": aftgen.prompts_digest(), "data_seed": cfg.data.seed,
                "mix": files_digest([Path(gen.mix_path)]) if gen.mix_path else None}

    def build(work: Path) -> dict:
        client = _generator(job)
        report = aftgen.generate_aft_pool(spec, client, gen, work, seed=cfg.data.seed,
                                          temperature=cfg.generator.temperature, structured=cfg.generator.structured)
        rows = count_lines(work / POOL[CORPUS])
        if rows == 0:
            raise EmptyDatasetError(f"the generator ({client.endpoint}) produced no usable AFT row for spec "
                                    f"{spec.id!r}: {_why_empty(client, report)}; nothing was published")
        from msm.data.aftgen_steps import STATUSES

        responses = report["steps"].get("responses", {})  # counts by status (ok, truncated, refused, ...) and more
        written = sum(responses.get(status, 0) for status in STATUSES)
        health = _health(read_jsonl(work / POOL[CORPUS]), spec, responses.get("truncated", 0), written)
        return {**report, "rows": rows, "llm_usage": report["usage"]["total"], "corpus_health": health}

    return Build("aft_pool", settings, _writer_inputs(job), aftgen.VERSION, build, POOL)


def _imported_documents(job: Job) -> Build:
    """A corpus the researcher brought, as the documents artifact: keyed by its content (never by where it
    lies), no spec and no generator in its key, since nothing was written from them. Its corpus-health report
    (and overlap with msm's eval prompts) is made as for a generated corpus; rule coverage is left out, as the
    corpus was not written from this job's spec."""
    from msm.data import imports

    imp, field = job.imported("datagen.documents.source"), job.cfg.datagen.documents.text_field
    settings = {"source": "import", "digest": imp.digest, "text_field": field}

    def build(work: Path) -> dict:
        docs, counts = imports.documents(imp.location, field)
        write_jsonl(work / DOCUMENTS[CORPUS], docs)
        log.info("imported %d documents from %s (%d empty rows left out, %d duplicate rows kept)",
                 len(docs), imp.location, counts["empty"], counts["duplicates"])
        return {**counts, "n_documents": len(docs), "approx_tokens": counts["chars"] // 4, "imported": imp.as_dict(),
                "corpus_health": _health(docs, None)}

    return Build("documents", settings, {}, imports.VERSION, build, DOCUMENTS)


def _imported_pool(job: Job) -> Build:
    """Demonstrations the researcher brought (``aft.data=file``), as the AFT pool: keyed by their content. The
    no-CoT twin is made at AFT time by stripping each ``<think>`` block; rows without one are counted."""
    from msm.data import imports

    imp = job.imported("aft.data_path")
    settings = {"source": "import", "digest": imp.digest}

    def build(work: Path) -> dict:
        rows, counts = imports.demonstrations(imp.location)
        write_jsonl(work / POOL[CORPUS], rows)
        log.info("imported %d demonstrations from %s (%d without a <think> block, %d duplicate rows kept)",
                 len(rows), imp.location, counts["without_think"], counts["duplicates"])
        return {**counts, "imported": imp.as_dict(), "corpus_health": _health(rows, None)}

    return Build("aft_pool", settings, {}, imports.VERSION, build, POOL)


def _health(rows: list[dict], spec: Spec | None, truncated: int | None = None, written: int | None = None) -> dict:
    """The corpus-health report (msm.data.health), with the corpus's overlap with msm's eval prompts."""
    from msm.data.health import corpus_health

    return {**corpus_health(rows, spec, truncated=truncated, written=written), "eval_overlap": _eval_overlap(rows, spec)}


def _eval_overlap(rows: list[dict], spec: Spec | None, n: int = 8) -> dict:
    """Word n-gram overlap of a corpus with every eval prompt msm ships (the paper's agentic grid and the
    value eval's packaged items), by the contamination check, the spec's own rule texts set aside: a
    corpus is shared by every eval a sweep runs, so it is held against all of them."""
    from msm.data.cheese import EVAL_ITEMS_FILE
    from msm.evals.agentic.run import grid_prompt_texts
    from msm.evals.contamination import check

    prompts = grid_prompt_texts("paper") + [{"id": it["id"], "text": it["question"] + "\n" + "\n".join(it["options"])}
                                             for it in read_jsonl(EVAL_ITEMS_FILE)]
    report = check({"corpus": rows}, prompts, n=n, ignore=[r.text for r in spec.rules] if spec else [])
    return {"n": n, "prompts": len(prompts), "overlap_rate": report.overlap_rate,
            "max_prompt_rate": report.max_prompt_rate}


def check_health(job: Job, stage: str, art: Artifact) -> tuple[dict, list[str]]:
    """The artifact's health report (computed now for one published before msm made them) and its warnings
    against ``datagen.health``, logged; under ``datagen.strict`` a warning stops the job, before training.

    The diversity thresholds judge what a generator wrote or a researcher brought. The packaged AFT pools (the
    cheese chats, the controls' choices) are short templated rows by design, fixed by the experiment: their
    diversity and coverage are kept in the manifest and the job's metrics (``python -m msm.data.health`` shows
    them) but not warned about; leakage and eval overlap are (``PACKAGED_POOL_THRESHOLDS``)."""
    from msm.data import health

    cfg = job.cfg
    report = art.info.get("corpus_health")
    if report is None or report.get("version") != health.VERSION:
        fixed = stage == "aft_pool" and cfg.aft.data != "generated"
        report = health.corpus_health(read_jsonl(art.file(CORPUS)), None if fixed else job.spec)
    thresholds = cfg.datagen.health
    if stage == "aft_pool" and cfg.aft.data in PACKAGED_POOLS:
        thresholds = OmegaConf.merge(thresholds, PACKAGED_POOL_THRESHOLDS)
    problems = health.warnings(report, thresholds, stage)
    for problem in problems:
        log.warning("corpus health: %s", problem)
    if problems and cfg.datagen.strict:
        raise MsmError(f"corpus health (datagen.strict=true): {problems[0]}"
                       + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                       + f"; nothing was trained. The full report: python -m msm.data.health {art.path}")
    return report, problems


def _why_empty(client, report: dict) -> str:
    """The failed requests by cause when there were any (the usual reason nothing came back), else the
    generator's own counts of what it dropped and why."""
    return client.failure_note() or f"counts {report.get('documents') or report.get('counts') or report}"


def pool_size(cfg: DictConfig) -> tuple[int, bool]:
    """(rows, exact) of the AFT pool a job draws from, known before it is built: the fixed pools are
    counted, a generated pool holds at most ``datagen.aft.target_rows`` (exact False)."""
    if cfg.aft.data == "cheese":
        from msm.data import cheese

        return len(cheese.load_aft_chats()), True
    if cfg.aft.data in CONTROL_POOLS:
        from msm.data import controls

        return len(controls.control_chats(str(cfg.aft.data), cfg.data.seed)), True
    if cfg.aft.data == "file":
        from msm.data import imports

        return imports.count(cfg.aft.data_path), True
    return int(cfg.datagen.aft.target_rows), False


def preview(job: Job) -> dict:
    """Run each LLM data step of the job on a tiny slice, print samples and the estimated cost, publish nothing."""
    cfg, spec = job.cfg, job.spec
    client = _generator(job)
    out = {}
    with tempfile.TemporaryDirectory(prefix="msm-preview-") as tmp:
        if trains(cfg.midtrain.method) and cfg.datagen.documents.source is None:
            from msm.data import docgen

            out["documents"] = docgen.generate_documents(
                spec, client, cfg.datagen.documents, Path(tmp) / "documents", seed=cfg.data.seed,
                temperature=cfg.generator.temperature, structured=cfg.generator.structured, preview=True)
        if trains(cfg.aft.method) and cfg.aft.data == "generated":
            from msm.data import aftgen

            out["aft_pool"] = aftgen.generate_aft_pool(
                spec, client, cfg.datagen.aft, Path(tmp) / "aft", seed=cfg.data.seed,
                temperature=cfg.generator.temperature, structured=cfg.generator.structured, preview=True)
    return out
