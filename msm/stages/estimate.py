"""What one stage build will cost, estimated from the settings alone, before anything runs (msm/plan.py).

Nothing here calls a model. LLM calls are the first round's fan-out of the data generators (the same
counts their previews scale to, ``msm.data.docgen_preview.fanout`` and ``msm.data.aftgen_preview``) and
every sampled row the judge grades; retries, top-up rounds and regenerations come on top, and responses
already in the LLM cache are free. Tokens are bounds: prompts are their template plus the whole spec
(4 characters a token), answers use their whole token budget. A step's system prompt (the spec and the
instructions, the same for all its calls) is read from the provider's prompt cache on every call after
the first where the provider caches it (Anthropic with ``prompt_cache``, OpenAI by itself; both from 1,024
tokens), and priced so (``msm.llm.prices``, with Anthropic's batch discount under ``use_batches``).
Compute is FLOPs per token from the parameter count (6N for full training, 4N for LoRA, whose frozen base
needs no weight gradients, 2N for a forward pass) over a configured throughput. Every estimate carries the assumptions it made, because a
researcher signs off on the number and must know what it left out.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from omegaconf import DictConfig

from msm.config import AftData, TrainMethod, plain
from msm.job import Job
from msm.specs import Spec
from msm.stages.data import CORPUS
from msm.store import Build, Store

CHARS_PER_TOKEN = 4
LLM_ASSUMES = ("one round of calls, no retries, top-ups or regenerations; prompts: template + the whole spec at "
               f"{CHARS_PER_TOKEN} chars/token; answers: their whole max_tokens (an upper bound); cached "
               "responses are counted as calls")
MIN_CACHED_PREFIX = 1024  # tokens: shorter prompt prefixes are not cached (Anthropic's and OpenAI's minimum)


@dataclass
class Estimate:
    """One stage build's cost; ``gpu_hours`` is None where nothing is computed on an accelerator."""

    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # of input_tokens, read from the provider's prompt cache
    cache_write_tokens: int = 0  # of input_tokens, written to it (billed above the input price by Anthropic)
    cost_usd: float = 0.0
    priced: bool = True  # False: calls are made but no prices are configured, so cost_usd is unknown (0)
    compute_tokens: int = 0  # tokens the accelerator trains on, or generates (eval)
    gpu_hours: float | None = None
    imported: str | None = None  # what was brought in its place (a corpus, demonstrations): read, not made
    assumes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def estimate(b: Build, job: Job, inputs: dict[str, Build]) -> Estimate:
    """The cost of building ``b`` (one stage of ``job``); ``inputs``: the job's other builds by stage, whose
    artifacts, when already in the store, give real corpus sizes."""
    cfg, spec = job.cfg, job.spec
    if b.settings.get("source") == "import":
        imp = next(i for i in job.imports if i.digest == b.settings["digest"])
        return Estimate(imported=f"{imp.location} ({imp.size:,} bytes, digest {imp.digest})",
                        assumes=[f"imported from {imp.field}: read as it is, nothing generated"])
    if b.stage == "documents" and cfg.generator.backend != "offline":
        return _docgen(cfg, spec)
    if b.stage == "aft_pool" and cfg.aft.data == AftData.generated and cfg.generator.backend != "offline":
        return _aftgen(cfg, spec)
    if b.stage in ("midtrain", "aft"):
        return _training(b.stage, job, inputs)
    if b.stage == "eval":
        return _eval(cfg)
    if b.stage == "samples":
        return _samples(cfg)
    if b.stage == "verdicts":
        return _verdicts(cfg, job.uses_judge)
    if b.stage == "inspect":
        return _inspect(cfg, job.uses_judge)
    return Estimate(assumes=["built on the CPU in seconds to minutes (templates, a fixed file, or a tiny model)"])


# ---- LLM calls ---------------------------------------------------------------------------------------


def _template_tokens(folder: Path, name: str, spec: Spec | None) -> tuple[int, int]:
    """(system, user) tokens of a template's prompt: the spec counted where its ``$spec`` is."""
    from msm.data.templates import Prompt

    prompt = Prompt.load(folder / f"{name}.md")
    spec_chars = len(spec.render()) if spec else 0
    parts = [len(part) + (spec_chars if "$spec" in part else 0) for part in (prompt.system, prompt.user)]
    return parts[0] // CHARS_PER_TOKEN, parts[1] // CHARS_PER_TOKEN


def _caches(llm) -> bool:
    return (llm.backend == "anthropic" and bool(llm.prompt_cache)) or llm.backend == "openai"


def _calls(est: Estimate, llm, calls: int, prompt: tuple[int, int], output: int, extra_input: int = 0) -> None:
    """Add ``calls`` requests of one step: ``prompt`` = (system, user) tokens, ``extra_input`` more varying ones.
    The system prompt is written to the provider's cache once and read from it by every later call."""
    system, user = prompt
    est.llm_calls += calls
    est.input_tokens += calls * (system + user + extra_input)
    est.output_tokens += calls * output
    if calls and system >= MIN_CACHED_PREFIX and _caches(llm):
        est.cached_tokens += (calls - 1) * system
        est.cache_write_tokens += system if llm.backend == "anthropic" else 0


def _priced(est: Estimate, llm) -> Estimate:
    from msm.llm import prices

    p = prices(plain(llm))
    batched = llm.backend == "anthropic" and bool(llm.use_batches)
    est.cost_usd = round(p.cost(est.input_tokens, est.output_tokens, est.cached_tokens, est.cache_write_tokens,
                                batched=batched), 4)
    est.priced = p.set or est.llm_calls == 0
    if not est.priced:
        est.assumes.append(f"no prices set for {llm.name} ({llm.model}): cost unknown, counted as $0")
    elif est.cached_tokens:
        est.assumes.append(f"the system prompt read from the prompt cache after each step's first call "
                           f"(${p.cache_read:g}/M tokens read, ${p.cache_write:g}/M written)")
    if batched and est.llm_calls:
        est.assumes.append(f"Message Batches at {p.batch_factor:g} of the standard price")
    return est


def _docgen(cfg: DictConfig, spec: Spec) -> Estimate:
    from msm.data.docgen import PROMPT_DIR, settings
    from msm.data.docgen_preview import fanout
    from msm.data.docgen_steps import list_budget
    from msm.data.schemas import ITEM_CHARS, json_budget

    s = settings(cfg.datagen.documents)
    gen = cfg.generator
    est = Estimate(assumes=[LLM_ASSUMES])
    for level, (units, items) in fanout(s).items():
        budget = list_budget(level, items)
        if gen.structured:
            budget = max(budget, json_budget(items, ITEM_CHARS[level]))
        _calls(est, gen, units, _template_tokens(PROMPT_DIR, level, spec), budget)
    per_doc = [("document", s.target_documents)] + ([("revise", s.target_documents)] if s.revise else [])
    for template, calls in per_doc:
        _calls(est, gen, calls, _template_tokens(PROMPT_DIR, template, spec), s.max_tokens,
               extra_input=s.max_tokens if template == "revise" else 0)
    return _priced(est, gen)


def _aftgen(cfg: DictConfig, spec: Spec) -> Estimate:
    from msm.data.aftgen import PROMPT_DIR
    from msm.data.aftgen_preview import FILTER_OUTPUT_GUESS, first_round_calls
    from msm.data.docgen_steps import list_budget

    gen = cfg.datagen.aft
    calls = first_round_calls(gen)
    response = f"response_{gen.style}"
    tokens = {  # ((system, user) prompt, output, more varying input) per call
        "domains": (_template_tokens(PROMPT_DIR, "domains", spec), list_budget("domains", gen.n_domains), 0),
        "questions": (_template_tokens(PROMPT_DIR, "questions", spec), gen.max_tokens, 0),
        "responses": (_template_tokens(PROMPT_DIR, response, spec), gen.max_tokens, 0),
        "filter": (_template_tokens(PROMPT_DIR, "filter", spec), FILTER_OUTPUT_GUESS, gen.max_tokens),
    }
    est = Estimate(assumes=[LLM_ASSUMES, f"a filter verdict: ~{FILTER_OUTPUT_GUESS} tokens"])
    for step, n in calls.items():
        prompt, output, extra = tokens[step]
        _calls(est, cfg.generator, n, prompt, output, extra_input=extra)
    return _priced(est, cfg.generator)


# ---- compute -------------------------------------------------------------------------------------------


def params(cfg: DictConfig) -> float | None:
    """The model's parameter count: counted from ``model.arch`` for the tiny model, else ``model.params_b``."""
    if cfg.model.params_b is not None:
        return float(cfg.model.params_b) * 1e9
    if cfg.model.source == "tiny":
        a = cfg.model.arch
        per_layer = 4 * a.hidden_size ** 2 + 3 * a.hidden_size * a.intermediate_size
        return float(a.num_layers * per_layer + 2 * a.vocab_size * a.hidden_size)
    return None


def _gpu_hours(cfg: DictConfig, tokens: int, flops_per_token: float, est: Estimate) -> Estimate:
    budget = cfg.budget
    est.compute_tokens = tokens
    if budget.tokens_per_s:
        est.gpu_hours = tokens / float(budget.tokens_per_s) / 3600
        est.assumes.append(f"{budget.tokens_per_s:g} tokens/s per accelerator (budget.tokens_per_s)")
        return est
    n = params(cfg)
    if n is None:
        est.assumes.append(f"GPU-hours unknown: set model.params_b for {cfg.model.name}, or budget.tokens_per_s")
        return est
    est.gpu_hours = tokens * flops_per_token * n / (float(budget.gpu_tflops) * 1e12 * float(budget.mfu)) / 3600
    est.assumes.append(f"{n / 1e9:.3g}B parameters, {flops_per_token:g}N FLOPs/token, "
                       f"{budget.gpu_tflops:g} TFLOP/s peak at {budget.mfu:g} MFU (budget.gpu_tflops, budget.mfu)")
    return est


_STORED_TOKENS: dict[Path, int] = {}


def _stored_tokens(store: Store, b: Build | None) -> int | None:
    """Tokens of an input corpus already in the store (its text at 4 characters a token), else None;
    read once per artifact for a whole sweep (published artifacts never change)."""
    art = store.find(b) if b is not None and store.has(b) else None
    if art is None or not art.file(CORPUS).is_file():
        return None
    path = art.file(CORPUS)
    if path not in _STORED_TOKENS:
        chars = 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                chars += len(row["text"]) if "text" in row else sum(len(m["content"]) for m in row["messages"])
        _STORED_TOKENS[path] = chars // CHARS_PER_TOKEN
    return _STORED_TOKENS[path]


_POOL_SIZES: dict[tuple, int] = {}


def _pool_size(cfg: DictConfig) -> int:
    """The AFT pool's rows (``msm.stages.data.pool_size``), counted once per pool for a whole sweep: a fixed
    pool is read from its file, and a sweep's jobs mostly share one."""
    from msm.stages.data import pool_size

    key = (str(cfg.aft.data), cfg.data.seed, cfg.datagen.aft.target_rows)
    if key not in _POOL_SIZES:
        _POOL_SIZES[key] = pool_size(cfg)[0]
    return _POOL_SIZES[key]


def _training(stage: str, job: Job, inputs: dict[str, Build]) -> Estimate:
    cfg, store = job.cfg, job.store
    st = cfg.midtrain if stage == "midtrain" else cfg.aft
    seq = int(st.max_seq_len or cfg.model.max_seq_len)
    est = Estimate()
    if stage == "midtrain":
        rows = int(cfg.datagen.documents.target_documents)
        if cfg.midtrain.max_documents:
            rows = min(rows, int(cfg.midtrain.max_documents))
        known = _stored_tokens(store, inputs.get("documents"))
        if known is not None and cfg.midtrain.max_documents:
            known = round(known * rows / max(int(cfg.datagen.documents.target_documents), 1))
    else:
        pool = _pool_size(cfg)
        rows = min(pool, int(cfg.aft_scale.rows)) if cfg.aft_scale.rows else pool
        known = _stored_tokens(store, inputs.get("aft_pool"))
        if known is not None:
            known = round(known * rows / max(pool, 1))
    if known is None:
        tokens = rows * seq
        est.assumes.append(f"{rows} rows of at most {seq} tokens (the data is not built yet: an upper bound)")
    else:
        tokens = known
        est.assumes.append(f"{rows} rows, measured in the stored data")
    if stage == "midtrain" and cfg.midtrain.max_tokens:
        tokens = min(tokens, int(cfg.midtrain.max_tokens))
        est.assumes.append(f"a dose of at most {int(cfg.midtrain.max_tokens)} tokens (midtrain.max_tokens)")
    tokens = round(tokens * float(st.epochs))
    if st.max_steps > 0:
        tokens = min(tokens, st.max_steps * st.batch_size * st.grad_accum * seq)
    method = st.method if stage == "midtrain" else job.aft_method  # AFT continues the MSM adapter when there is one
    flops = 6.0 if method == TrainMethod.full else 4.0
    return _gpu_hours(cfg, tokens, flops, est)


def _eval(cfg: DictConfig) -> Estimate:
    return Estimate(assumes=["forced-choice scoring: one forward pass per item, minutes at most"])


def _transcripts(cfg: DictConfig) -> tuple[int, dict]:
    from msm.evals.agentic.run import grid_prompts, sampling_settings

    sampling = sampling_settings(cfg.eval)
    return len(grid_prompts(cfg.eval.grid, list(cfg.eval.personas))) * int(sampling["n"]), sampling


def _samples(cfg: DictConfig) -> Estimate:
    rows, sampling = _transcripts(cfg)
    est = _gpu_hours(cfg, rows * int(sampling["max_new_tokens"]), 2.0, Estimate())
    est.assumes.append(f"{rows} samples of up to {sampling['max_new_tokens']} new tokens; generation is memory-bound, "
                       "so the FLOP model is a lower bound on its time")
    return est


def _inspect(cfg: DictConfig, judges: bool) -> Estimate:
    from msm.evals.inspect_task import conditions

    ev = cfg.eval
    conds = len(conditions(plain(ev.task_args), plain(ev.task_grid)))
    epochs, new = int(ev.samples_per_condition or 1), int(ev.max_new_tokens or 1024)
    est = _gpu_hours(cfg, conds * epochs * new, 2.0, Estimate())
    est.assumes.append(f"{conds} condition(s) x {epochs} epoch(s) of up to {new} new tokens, assuming one sample a "
                       "condition (the task's dataset decides)")
    if judges:
        est.assumes.append("the task's grader calls (msm's judge) are not estimated: the task decides how many")
    return est


def _verdicts(cfg: DictConfig, judges: bool) -> Estimate:
    if not judges:
        return Estimate(assumes=["rule-based evidence and actions only (no LLM judge): seconds"])
    rows, sampling = _transcripts(cfg)
    judged = rows * (2 if cfg.eval.policy_misuse else 1)  # the policy-misuse pass: rows that have a scratchpad
    est = Estimate(llm_calls=judged, input_tokens=judged * (int(sampling["max_new_tokens"]) + 1000),
                   output_tokens=judged * int(cfg.judge.max_tokens))
    est.assumes.append(LLM_ASSUMES + "; a rubric ~1,000 tokens + the whole response; every row has a scratchpad")
    return _priced(est, cfg.judge)
