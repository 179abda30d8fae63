"""Stage builders: each turns its inputs into a published artifact through ``msm.store``.

A stage's key is a hash of its settings and its inputs' keys, so jobs that share an input (four
seeds sharing a corpus, two specs sharing an AFT-only model) build it once and a rerun builds
nothing. The modules that do the work (``msm.data``, ``msm.train``, ``msm.evals``) never see the
store: these functions hand them folders and turn what they publish into model references. The
order in which stages run is known only to ``msm.pipeline``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from msm.errors import EmptyDatasetError, MsmError
from msm.jsonl import count_lines, read_jsonl, write_jsonl
from msm.specs import Spec, load_spec
from msm.store import Store

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]


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


def llm_client(store: Store, cfg: DictConfig, role: str = "generator"):
    """The LLM client for ``cfg.generator`` or ``cfg.judge``, its response cache kept beside the artifacts."""
    llm = cfg[role]
    if llm.backend in ("offline", "none"):
        raise MsmError(f"this stage needs an LLM {role}: {role}=openai | anthropic | hf ({role}={llm.name} has none)")
    from msm.llm import accepted_settings, make_client

    allowed = accepted_settings(llm.backend)  # one config schema serves every backend; pass each only its own keys
    settings = {k: v for k, v in _settings(llm).items() if k in allowed and v is not None}
    return make_client(settings, cache_dir=store.root / "llm_cache")


def _generator_identity(cfg: DictConfig, role: str = "generator") -> dict:
    keys = GENERATOR_CONTENT_KEYS + (("max_tokens",) if role == "judge" else ())
    return {k: cfg[role][k] for k in keys}


def documents(store: Store, cfg: DictConfig, spec: Spec):
    """The spec's document corpus. Independent of model, seed and aft_scale."""
    target = cfg.datagen.documents.target_documents
    if target <= 0:
        raise EmptyDatasetError(f"datagen.documents.target_documents={target}: the corpus would be empty")
    if cfg.generator.backend == "offline":
        from msm.data.offline_docs import generate_documents

        def build(work: Path) -> dict:
            docs = generate_documents(spec, target, seed=cfg.data.seed)
            write_jsonl(work / "documents.jsonl", docs)
            return {"n_documents": len(docs), "words": sum(len(d["text"].split()) for d in docs), "spec": spec.id}

        settings = {"generator": "offline", "target_documents": target, "data_seed": cfg.data.seed}
        return store.build("documents", settings, {"spec": spec.digest()}, build)

    from msm.data import docgen

    def build(work: Path) -> dict:  # the client (and its API key) is needed only when something is built
        report = docgen.generate_documents(spec, llm_client(store, cfg), cfg.datagen.documents, work, seed=cfg.data.seed,
                                           temperature=cfg.generator.temperature)
        kept = count_lines(work / "documents.jsonl")
        if kept == 0:
            raise EmptyDatasetError(f"the generator ({cfg.generator.model}) produced no usable document for spec "
                                    f"{spec.id!r}: {report.get('documents')}; nothing was published")
        return {**report, "n_documents": kept, "spec": spec.id}

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
            return {"rows": write_jsonl(work / "pool.jsonl", load_aft_chats())}

        digest = _file_digest(ASSET_DIR / "aft_chats.jsonl")
        return store.build("aft_pool", {"source": "cheese"}, {"file": digest}, build_cheese)
    if cfg.aft.data != "generated":
        raise MsmError(f"aft.data={cfg.aft.data!r}: expected cheese (the fixed cheese chats) or generated (from the spec)")

    gen = cfg.datagen.aft
    if cfg.generator.backend == "offline":
        from msm.data.offline_aft import generate_aft_pool

        def build_offline(work: Path) -> dict:
            rows = generate_aft_pool(spec, gen.target_rows, seed=cfg.data.seed, style=gen.style)
            return {"rows": write_jsonl(work / "pool.jsonl", rows), "spec": spec.id}

        settings = {"source": "generated", "generator": "offline", "target_rows": gen.target_rows,
                    "style": gen.style, "data_seed": cfg.data.seed}
        return store.build("aft_pool", settings, {"spec": spec.digest()}, build_offline)

    from msm.data import aftgen

    def build(work: Path) -> dict:
        report = aftgen.generate_aft_pool(spec, llm_client(store, cfg), gen, work, seed=cfg.data.seed, temperature=cfg.generator.temperature)
        rows = count_lines(work / "pool.jsonl")
        if rows == 0:
            raise EmptyDatasetError(f"the generator ({cfg.generator.model}) produced no usable AFT row for spec "
                                    f"{spec.id!r}; nothing was published")
        return {**report, "rows": rows}

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
    from msm.train.recipes import midtrain

    def build(work: Path) -> dict:
        return midtrain(work, base.as_dict(), docs.path / "documents.jsonl", cfg.midtrain, cfg.model, cfg.seed, tracker.log)

    settings = {"midtrain": _settings(cfg.midtrain), "max_seq_len": cfg.model.max_seq_len, "seed": cfg.seed}
    art = store.build("midtrain", settings, {"model": base.key, "documents": f"documents/{docs.key}"}, build)
    return _trained(art, base), art


def aligned(store: Store, cfg: DictConfig, start: ModelRef, pool, tracker):
    """AFT on ``aft_scale`` rows drawn from the pool with the data seed (CoT kept or stripped)."""
    from msm.data.transforms import strip_think, subsample
    from msm.train.recipes import aft

    def build(work: Path) -> dict:
        rows = subsample(read_jsonl(pool.path / "pool.jsonl"), cfg.aft_scale.rows, cfg.data.seed, what="AFT rows")
        if not cfg.aft.cot:
            rows = [strip_think(r) for r in rows]
        write_jsonl(work / "rows.jsonl", rows)
        return aft(work, start.as_dict(), work / "rows.jsonl", cfg.aft, cfg.model, cfg.seed, tracker.log)

    settings = {
        "aft": _settings(cfg.aft), "aft_scale": cfg.aft_scale.rows, "data_seed": cfg.data.seed,
        "max_seq_len": cfg.model.max_seq_len, "seed": cfg.seed,
    }
    art = store.build("aft", settings, {"model": start.key, "pool": f"aft_pool/{pool.key}"}, build)
    return _trained(art, start), art


def evaluated(store: Store, cfg: DictConfig, ref: ModelRef, role: str, spec: Spec):
    """Eval results for one model: ``metrics`` in the manifest, one row per item or sample in samples.jsonl.

    The cheese eval is deterministic, so its key holds no training seed and the base model is scored
    once for every seed; the agentic eval samples, so its key holds the seed and the judge (and the spec,
    whose rules the policy-misuse judge reads: without that judge the base model is sampled once per
    seed for every spec of a sweep).
    """
    from msm.train.models import load_model, load_tokenizer

    if cfg.eval.name not in ("cheese", "agentic"):
        raise MsmError(f"eval={cfg.eval.name!r} is not available (known: cheese, agentic)")
    agentic = cfg.eval.name == "agentic"
    judged = agentic and cfg.judge.backend != "none"

    def build(work: Path) -> dict:
        if agentic:
            from msm.evals.agentic.run import evaluate as agentic_eval
            from msm.evals.agentic.run import spec_rules_text

            metrics, rows = agentic_eval(
                _sampler(store, cfg, ref, work), cfg.eval, judge=llm_client(store, cfg, "judge") if judged else None,
                judge_cfg=cfg.judge, spec_rules=spec_rules_text(spec))
        else:
            from msm.evals.cheese import evaluate

            model = load_model(ref.base, dtype=cfg.model.dtype, adapter=ref.adapter).eval()
            tokenizer = load_tokenizer(ref.base, cfg.model.chat_template)
            metrics, rows = evaluate(model, tokenizer, cfg.eval, seed=cfg.data.seed, desc=f"eval ({role})")
        write_jsonl(work / "samples.jsonl", rows)
        shutil.rmtree(work / "vllm", ignore_errors=True)  # raw token ids, kept only to resume a failed eval
        return {"metrics": metrics}

    ev = _settings(cfg.eval)
    if ev["sampler"] != "vllm" or not agentic:
        del ev["vllm"]  # engine settings matter only to the samples they draw
    settings = {"eval": ev, "data_seed": cfg.data.seed}
    inputs = {"model": ref.key}
    if agentic:
        settings.update(seed=cfg.seed, judge=_generator_identity(cfg, "judge") if judged else None)
        if judged and cfg.eval.policy_misuse:
            inputs["spec"] = spec.digest()  # the policy-misuse judge reads the spec's rules; nothing else does
    return store.build("eval", settings, inputs, build)


def _sampler(store: Store, cfg: DictConfig, ref: ModelRef, work: Path):
    """``sample(prompts, n, temperature=, max_new_tokens=)`` for the model under test, by ``eval.sampler``."""
    from functools import partial

    from msm.evals import sampling
    from msm.train.models import load_model, load_tokenizer, use_bf16_autocast

    kind = cfg.eval.sampler
    if kind == "openai":
        from msm.llm import make_client

        client = make_client({"backend": "openai", "model": cfg.eval.sampler_model, "base_url": cfg.eval.sampler_base_url},
                             cache_dir=store.root / "llm_cache")
        return partial(sampling.sample_served, client)
    tokenizer = load_tokenizer(ref.base, cfg.model.chat_template)
    if kind == "vllm":
        return partial(sampling.sample_vllm, tokenizer, ref.as_dict(), seed=cfg.seed, work=work / "vllm",
                       dtype=cfg.model.dtype, engine=_settings(cfg.eval.vllm))
    model = load_model(ref.base, dtype=cfg.model.dtype, adapter=ref.adapter).eval()
    return partial(sampling.sample_hf, model, tokenizer, batch_size=cfg.eval.batch_size, seed=cfg.seed,
                   bf16=use_bf16_autocast(cfg.eval.precision, model))


def check_sampler(cfg: DictConfig) -> None:
    """Refuse an agentic eval whose sampler cannot run, before any training is spent on the job."""
    from msm.evals.sampling import SAMPLERS, check_vllm

    if cfg.eval.name != "agentic":
        return
    if cfg.eval.sampler not in SAMPLERS:
        raise MsmError(f"eval.sampler={cfg.eval.sampler!r} is not a sampler (known: {', '.join(SAMPLERS)})")
    if cfg.eval.sampler == "openai" and not (cfg.eval.sampler_model and cfg.eval.sampler_base_url):
        raise MsmError("eval.sampler=openai needs eval.sampler_model and eval.sampler_base_url (the served model under test)")
    if cfg.eval.sampler == "vllm":
        check_vllm(cfg.eval.vllm.python)


# ---- reading published artifacts ------------------------------------------------------------------


def eval_samples(art) -> list[dict]:
    """The graded rows of a published eval artifact."""
    return read_jsonl(art.path / "samples.jsonl")


def contamination(cfg: DictConfig, spec: Spec, docs, aft_art):
    """N-gram overlap between a job's training corpora (documents, AFT rows) and its agentic eval prompts."""
    from msm.evals.agentic.run import grid_prompts
    from msm.evals.contamination import check

    training = {
        "documents": read_jsonl(docs.path / "documents.jsonl") if docs else [],
        "aft": read_jsonl(aft_art.path / "rows.jsonl") if aft_art else [],
    }
    prompts = [{"id": p["id"], "text": p["system"] + "\n" + p["user"]} for p in grid_prompts(cfg.eval.grid)]
    return check(training, prompts, n=cfg.eval.contamination_n, ignore=[r.text for r in spec.rules])
