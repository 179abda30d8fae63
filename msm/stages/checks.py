"""Everything a job can check before it spends anything: one line per problem, all of them at once.

The schema (``msm.config``) already refused unknown keys, wrong types and values outside a closed set
when Hydra composed the config. What it cannot know is checked here, before the store is touched, a
tracker is started or a data stage runs (which may cost real LLM calls): the spec parses, the model
can be loaded, the API key a paid backend needs is set, a served sampler has an address, a named grid
exists. A problem is a plain sentence naming the field, so a user fixes all of them in one go.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import is_dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from msm.config import EvalKind, ModelConfig, schema
from msm.errors import MsmError
from msm.job import Job, assemble, resolve_auto, stage_prefix, trains, uses_generator, uses_judge
from msm.llm import settings_problems
from msm.specs import resolve_spec
from msm.stages.base import EMBEDDED, EMBEDDED_NAME
from msm.stages.common import plain
from msm.stages.data import pool_size


class PreflightError(MsmError):
    """A job cannot run as configured; ``problems`` holds one line per thing to fix."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def problems(cfg: DictConfig) -> list[str]:
    """Every reason this job cannot run as configured (empty when it can)."""
    return _checked(cfg)[1]


def _checked(cfg: DictConfig) -> tuple[Job | None, list[str]]:
    """The job (None when it cannot be resolved: its spec is unreadable, say) and every problem found."""
    out: list[str] = unknown_keys(cfg) + range_problems(cfg) + path_problems(cfg)
    try:
        stages = stage_prefix(cfg.stages)
    except MsmError as e:
        return None, [str(e)]
    if OmegaConf.is_missing(cfg.spec, "path"):
        return None, out + [f"spec={cfg.spec.name} needs spec.path: python train.py spec=file "
                            "spec.path=path/to/my_spec.md"]
    spec = None
    try:
        spec = resolve_spec(cfg.spec.path, dict(cfg.spec.vars))
        cfg = resolve_auto(cfg, spec)
    except MsmError as e:
        out.append(str(e))
    if stages != ["data"]:
        out += model_problems(cfg.model)
    out += checkpoint_problems(cfg, stages)
    if cfg.generator.backend != "offline" and uses_generator(cfg):
        out += settings_problems(plain(cfg.generator), "generator")
        if cfg.generator.backend == "hf" and cfg.generator.model == EMBEDDED_NAME:  # its weights must be at hand
            out += [f"generator.model=embedded: {p}" for p in model_problems(EMBEDDED)]
    out += data_problems(cfg, stages)
    if "eval" in stages:
        out += eval_problems(cfg)
        if cfg.eval.kind == EvalKind.inspect and cfg.eval.grader_required and cfg.judge.backend == "none":
            out.append(f"eval={cfg.eval.name} ({cfg.eval.task}) scores with a grader model: set judge=openai | "
                       "anthropic | hf (judge=none has none), e.g. judge=openai judge.base_url=http://<server>/v1 "
                       "judge.model=<name>")
        if cfg.eval.kind in (EvalKind.agentic, EvalKind.inspect) and uses_judge(cfg, stages):
            out += settings_problems(plain(cfg.judge), "judge")
    if out:
        return None, out
    return assemble(cfg, spec), out  # makes the store's folder: only once the store is known to be writable


def range_problems(cfg: DictConfig) -> list[str]:
    """Numbers outside the range where they mean anything. Left alone they give a traceback deep in a
    stage (a batch of 0 rows) or a silent surprise (``eval.max_items=0`` read as "every item")."""
    out: list[str] = []

    def need(name: str, value, ok: bool, what: str) -> None:
        if value is not None and not ok:
            out.append(f"{name}={value}: {what}")

    for name, seed in (("seed", cfg.seed), ("data.seed", cfg.data.seed)):  # numpy's seeds are 32-bit
        need(name, seed, 0 <= seed < 2**32, f"a seed is 0 to {2**32 - 1} (numpy's range)")
    cpus = os.cpu_count() or 1
    need("threads", cfg.threads, cfg.threads is None or 0 < cfg.threads <= 4 * cpus,
         f"a positive number of torch threads, at most 4 x this machine's {cpus} CPUs, or null for the CPUs the "
         "job was given")
    for stage in ("midtrain", "aft"):
        s = cfg[stage]
        if not trains(s.method):
            continue
        for key, what in (("batch_size", "at least 1 packed row per step"), ("grad_accum", "at least 1"),
                          ("pad_to_multiple_of", "at least 1 (1: no rounding)"), ("save_steps", "at least 1"),
                          ("logging_steps", "at least 1")):
            need(f"{stage}.{key}", s[key], s[key] >= 1, what)
        need(f"{stage}.processes", s.processes, s.processes >= 1, "at least 1 training process")
        need(f"{stage}.packing", s.packing, stage == "midtrain" or s.packing == "whole",
             "AFT packs whole chats: a chat split across rows would train its answer without its prompt")
        need(f"{stage}.batch_size", s.batch_size, s.processes < 1 or s.batch_size % s.processes == 0,
             f"the global batch, split over {stage}.processes={s.processes} workers: use a multiple of it")
        need(f"{stage}.sharding", s.sharding, s.sharding == "none" or s.processes > 1,
             f"sharding splits the model over several workers: set {stage}.processes to 2 or more")
        need(f"{stage}.save_minutes", s.save_minutes, s.save_minutes >= 0, "0 (off) or a positive number of minutes")
        need(f"{stage}.lr", s.lr, s.lr > 0, "a learning rate is positive")
        need(f"{stage}.epochs", s.epochs, s.epochs > 0 or s.max_steps > 0, "positive (or set max_steps)")
    for key in ("max_documents", "max_tokens"):
        value = cfg.midtrain[key]
        need(f"midtrain.{key}", value, value is None or value > 0, "a dose of at least 1, or null for the whole corpus")
    ev = cfg.eval
    need("eval.max_items", ev.max_items, ev.max_items is None or ev.max_items > 0,
         "at least 1 item, or null for every item")
    need("eval.batch_size", ev.batch_size, ev.batch_size >= 1, "at least 1")
    return out


MIN_FREE_BYTES = 512 * 2**20
"""The least free space a job starts with: the tiny model's whole job writes ~20 MB, a checkpoint of the
embedded one ~0.5 GB. The plan's estimate of what a job writes is checked against free space too
(:func:`space_problems`, once the job's stages are planned)."""


def path_problems(cfg: DictConfig) -> list[str]:
    """The store must be a folder this process can create and write in. Tried for real (a file written
    and deleted at once in the store, or in the folder where it would be created): permission bits say
    nothing for root, a read-only mount or a full disk. Nothing is left behind: a job refused here has
    not even made the store's folder. Found out later, it would fail with a traceback after a stage ran."""
    store = Path(str(cfg.paths.store)).expanduser()
    where = store
    while not where.exists() and where != where.parent:  # the folder mkdir would start from
        where = where.parent
    try:
        if not where.is_dir():
            raise NotADirectoryError(20, "Not a directory")
        with tempfile.TemporaryFile(dir=where, prefix=".msm-write-check-"):
            pass
        free = shutil.disk_usage(where).free
    except OSError as e:
        return [f"paths.store={store}: cannot write there ({e.strerror or type(e).__name__}); point paths.store "
                "(or the MSM_STORE environment variable) at a folder you can write to"]
    if free < MIN_FREE_BYTES:
        return [f"paths.store={store}: only {free / 2**20:,.0f} MiB free there; a job needs at least "
                f"{MIN_FREE_BYTES / 2**20:,.0f} MiB (and `plan=true` says how much its stages write)"]
    return []


def unknown_keys(cfg: DictConfig) -> list[str]:
    """Keys that a ``+key=value`` override added and the schema (msm/config.py) does not have: Hydra
    accepts them, and nothing would ever read them (``+midtrain.lrr=1`` would train at the default lr)."""
    out: list[str] = []

    def walk(node: DictConfig, schema: DictConfig, prefix: str) -> None:
        known = [str(k) for k in schema.keys()]
        for key in node.keys():
            name = f"{prefix}{key}"
            if str(key) not in known:  # not `in schema`: that is False for a MISSING field
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
                out.append(f"{name}: not a setting msm knows{hint}; `python train.py --cfg job` lists them all")
                continue
            child, ref = node._get_node(key), schema._get_node(key)
            if isinstance(child, DictConfig) and isinstance(ref, DictConfig) and is_dataclass(OmegaConf.get_type(ref)):
                walk(child, ref, f"{name}.")

    walk(cfg, schema(), "")
    return out


def check(cfg: DictConfig) -> Job:
    """The job ``cfg`` describes, resolved once (:func:`msm.job.resolve`), or :class:`PreflightError` listing
    every problem it has."""
    job, found = _checked(cfg)
    if found:
        raise PreflightError(found)
    return job


def space_problems(job: Job, builds) -> list[str]:
    """Whether the store's disk has room for what the job will write: the stages it still has to build
    (``builds``: ``{stage: Build}``), each at a rough upper bound from the model's size (``model.params_b``;
    fp32 weights, a full-tuning stage with its optimizer state and one checkpoint). Checked before the first
    stage runs: a full disk found mid-training fails with a library's traceback and a half-written checkpoint."""
    cfg = job.cfg
    params = float(cfg.model.params_b or 0.001) * 1e9  # tiny: well under a million
    per_stage = {"base_model": params * 4, "documents": 64e6, "aft_pool": 64e6}
    for stage in ("midtrain", "aft"):
        full = cfg[stage].method == "full"
        per_stage[stage] = params * 4 * (4 if full else 0.1)  # weights, adam's two moments, a checkpoint; or LoRA
    need = sum(per_stage.get(name, 16e6) for name, b in builds.items() if not job.store.has(b))
    free = shutil.disk_usage(job.store.root).free
    if need > free:
        return [f"paths.store={job.store.root}: {free / 2**30:,.1f} GiB free, and the stages this job builds may "
                f"write ~{need / 2**30:,.1f} GiB (from model.params_b={cfg.model.params_b}); free space or point "
                "paths.store elsewhere"]
    return []


def model_problems(m: ModelConfig) -> list[str]:
    """Whether the base model can be had: its folder exists, its hub id is given (and cached when offline)."""
    from msm.models import read_chat_template

    out = []
    if m.chat_template:
        try:
            read_chat_template(m.chat_template)
        except MsmError as e:
            out.append(f"model.chat_template: {e}")
    if m.source == "tiny":
        from msm.train.base_models import TinyArch, arch_problems

        return out + arch_problems(TinyArch(**plain(m.arch)))
    if m.source == "smollm2_gguf":
        from msm.train.base_models import find_smollm2_gguf

        try:
            find_smollm2_gguf()
        except MsmError as e:
            out.append(str(e))
        return out
    name = m.name_or_path
    if not name:
        return out + [f"model={m.name}: model.source=hub needs model.name_or_path (a hub id or a local folder)"]
    path = Path(name).expanduser()
    if path.is_absolute() or name.startswith((".", "~")) or path.exists():
        if not (path / "config.json").is_file():
            out.append(f"model.name_or_path={name}: no model folder there (expected a config.json in it)")
    elif os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(name, "config.json"), str):
            out.append(f"model.name_or_path={name}: not in the local hub cache and HF_HUB_OFFLINE is set; "
                       "download it once, or point model.name_or_path at a local folder")
    return out


def data_problems(cfg: DictConfig, stages: list[str]) -> list[str]:
    """Sizes against the data they draw from; the AFT scale only for a job that trains AFT."""
    out = []
    target = cfg.datagen.documents.target_documents
    if trains(cfg.midtrain.method) and cfg.datagen.documents.source is None and target <= 0:
        out.append(f"datagen.documents.target_documents={target}: the corpus would be empty")
    if trains(cfg.aft.method):
        rows = cfg.aft_scale.rows
        if rows is not None and rows <= 0:
            out.append(f"aft_scale.rows={rows}: a job trains on at least one AFT row (or aft_scale=all)")
        elif rows is not None and "aft" in stages and cfg.aft.data != "auto" and not (
                cfg.aft.data == "file" and not (cfg.aft.data_path and Path(cfg.aft.data_path).expanduser().exists())):
            size, exact = pool_size(cfg)
            if rows > size:
                grow = "" if exact else "; or raise datagen.aft.target_rows"
                out.append(f"aft_scale.rows={rows}: the AFT pool (aft.data={cfg.aft.data}) holds "
                           f"{'only' if exact else 'at most'} {size} rows: lower aft_scale{grow}")
        mix = cfg.datagen.aft
        if cfg.aft.data == "generated" and cfg.generator.backend != "offline" and mix.mix_rows:
            if not mix.mix_path:
                out.append(f"datagen.aft.mix_rows={mix.mix_rows} needs datagen.aft.mix_path (a JSONL of chats)")
            elif not Path(mix.mix_path).expanduser().is_file():
                out.append(f"datagen.aft.mix_path={mix.mix_path}: no such file")
    return out + import_problems(cfg)


def checkpoint_problems(cfg: DictConfig, stages: list[str]) -> list[str]:
    """A checkpoint a job brings is found and fits: a LoRA adapter's every weight fits a linear layer of the
    job's base model (an adapter for another base is refused here, naming both), a model folder carries its
    tokenizer; ``stages=[eval]`` trains nothing; a brought aligned model does not follow a trained MSM."""
    from msm.job import checkpoint_kind, locate

    out = []
    for stage in ("midtrain", "aft"):
        if cfg[stage].method != "adapter":
            continue
        field = f"{stage}.adapter"
        try:
            where = locate(field, cfg[stage].adapter)
            kind = checkpoint_kind(where)
        except MsmError as e:
            out.append(str(e) if str(e).startswith(field) else f"{field}={cfg[stage].adapter}: {e}")
            continue
        if kind == "model":
            if not any((where / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
                out.append(f"{field}={cfg[stage].adapter}: a model folder without its tokenizer (tokenizer.json); "
                           "save the tokenizer beside the weights")
            continue
        from msm.train.base_models import base_config
        from msm.train.imported import base_problem

        try:
            problem = base_problem(where, base_config(cfg.model), cfg.model.name, field)
        except Exception as e:  # an unreadable adapter or base config: say which, in one line
            problem = f"{field}={cfg[stage].adapter}: cannot check it against model={cfg.model.name} ({type(e).__name__}: {e})"
        if problem:
            out.append(problem)
    if stages == ["eval"]:
        out += [f"stages=[eval] trains nothing, but {stage}={cfg[stage].name} would train: bring its checkpoint "
                f"({stage}=adapter {stage}.adapter=...) or set {stage}=none" for stage in ("midtrain", "aft")
                if trains(cfg[stage].method)]
    if cfg.aft.method == "adapter" and trains(cfg.midtrain.method):
        out.append(f"aft=adapter brings the aligned model whole, on the base model: midtrain={cfg.midtrain.name} would "
                   "train an MSM it never uses; set midtrain=none (AFT only) or midtrain=adapter (its MSM checkpoint)")
    return out


def import_problems(cfg: DictConfig) -> list[str]:
    """What a job brings can be read: the corpus has rows with its text field, the demonstrations are chats.
    Only the first row is read here; a bad row further in stops the data stage, naming it."""
    from msm.data import imports

    out = []
    docs = cfg.datagen.documents
    if trains(cfg.midtrain.method) and docs.source is not None:
        try:
            fields = imports.columns(docs.source)
            if docs.text_field not in fields:
                out.append(f"datagen.documents.source={docs.source}: its rows have no {docs.text_field!r} field "
                           f"(they have {fields[:8]}); set datagen.documents.text_field")
        except MsmError as e:
            out.append(f"datagen.documents.source: {e}")
    if trains(cfg.aft.method) and cfg.aft.data == "file":
        if not cfg.aft.data_path:
            out.append("aft.data=file needs aft.data_path: a JSONL, Parquet or save_to_disk folder of chats (messages)")
        else:
            try:
                if "messages" not in imports.columns(cfg.aft.data_path):
                    out.append(f"aft.data_path={cfg.aft.data_path}: its rows have no 'messages' field (a chat: "
                               "[{'role': 'user', 'content': ...}, {'role': 'assistant', 'content': ...}])")
            except MsmError as e:
                out.append(f"aft.data_path: {e}")
    return out


def eval_problems(cfg: DictConfig) -> list[str]:
    ev = cfg.eval
    if ev.kind == EvalKind.auto:
        return []  # not resolved: the spec could not be read, and that is the problem reported
    if ev.kind == EvalKind.cheese:
        from msm.data.cheese import load_eval_items

        if ev.families is not None and not ev.families:
            return ["eval.families is empty: name at least one item family, or null for all"]
        try:
            load_eval_items(families=list(ev.families) if ev.families else None, files=list(ev.item_files))
        except MsmError as e:
            return [f"eval.item_files: {e}"]
        return []
    if ev.kind == EvalKind.inspect:
        return inspect_problems(ev)
    from msm.evals.agentic.assemble import load_grid

    out = []
    try:
        load_grid(ev.grid)
    except MsmError as e:
        out.append(f"eval.grid={ev.grid}: {e}")
    out += _served_problems(ev)
    if ev.sampler == "serve":
        out.append("eval.sampler=serve is for eval=inspect; the agentic eval samples with hf, vllm (its offline "
                   "engine) or openai (a server you run)")
    if ev.sampler == "vllm":
        from msm.evals.sampling import check_vllm

        try:
            check_vllm(ev.vllm.python)
        except MsmError as e:
            out.append(str(e))
    return out


def _served_problems(ev) -> list[str]:
    if ev.sampler == "openai" and not (ev.sampler_model and ev.sampler_base_url):
        return ["eval.sampler=openai needs eval.sampler_model and eval.sampler_base_url (the served model under test)"]
    return []


def inspect_problems(ev) -> list[str]:
    """An inspect task that cannot run here: none named, a file or package missing, a grid that names no
    condition, a sampler it cannot use."""
    from msm.evals import inspect_task

    out = inspect_task.check_task(ev.task)
    try:
        inspect_task.conditions(plain(ev.task_args), plain(ev.task_grid))
    except MsmError as e:
        out.append(str(e))
    out += _served_problems(ev)
    if ev.sampler == "openai" and ev.include_base:
        out.append("eval.sampler=openai scores the one model the server serves: set eval.include_base=false and score "
                   "the base with its own server in a job with midtrain=none aft=none")
    if ev.sampler == "vllm":
        out.append("eval=inspect reaches vLLM through its server: run `vllm serve <base> --enable-lora --lora-modules "
                   "trained=<adapter>` and set eval.sampler=openai eval.sampler_base_url=http://<node>:8000/v1 "
                   "eval.sampler_model=trained")
    return out
