"""An inspect_ai task as an msm eval (``eval=inspect``): the community's evals, scored on every msm model.

Why: the paper's agentic-misalignment numbers come from an inspect_ai task, and other groups build their
side-effect batteries on inspect. A researcher wants the number that harness gives on an msm model, beside
msm's own evals, and wants to read its transcripts in ``inspect view``. So the task runs through inspect's
own machinery, untouched: the model under test reaches it through inspect's own providers (``hf`` on the
stage's weights with the LoRA adapter loaded, or ``openai-api`` on an OpenAI-compatible server, such as a
vLLM server on a GPU node serving the adapter), and the grader is msm's judge config mapped to an inspect
model (:func:`grader`). What msm adds is the grid and the bookkeeping:

- ``eval.task_grid``: the conditions, as a list of products (each entry maps a task argument to the values
  it takes; the conditions are the union of the entries' products), each run with ``eval.task_args`` as
  the common arguments. An empty grid is one condition, the common arguments alone.
- every condition's ``.eval`` log kept under one folder, named by the condition;
- rates with their counts: ``inspect/<task>/<score>/rate`` (the mean over conditions, as the paper reports),
  ``.../<condition>/rate`` per condition and ``.../<arg>=<value>/rate`` per value of each argument the grid
  varies, each with ``n`` (scored samples), ``k`` and ``failures`` (samples that errored or were not scored:
  left out of the denominator, never counted as a no).

A score's value becomes a rate the way inspect's own ``value_to_float`` reads it (``C``/``I``, yes/no,
numbers in [0, 1]); a scorer that returns a dict (the agentic-misalignment task: ``harmful`` and
``classifier_verdict``) gives one rate per key.
"""

from __future__ import annotations

import itertools
import os
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from msm.errors import MsmError

VERSION = "1"
"""Bump when the rows, metrics or logs this module writes change for the same task and model."""
METRIC_PREFIX = "inspect"


@dataclass(frozen=True)
class Condition:
    """One cell of the grid: the task's arguments, and a name made of the values the grid varies."""

    name: str
    args: dict


def headline(record: Mapping) -> list[str]:
    """The inspect scores a record holds, by name (``inspect/<task>/<score>``): each has a ``/rate``, the mean
    over conditions. Per-condition and per-argument rates sit one level deeper."""
    return [k.removesuffix("/rate") for k in record
            if k.startswith(f"{METRIC_PREFIX}/") and k.count("/") == 3 and k.endswith("/rate")]


def task_name(task: str) -> str:
    """The short name a task's rates go under: ``inspect_evals/agentic_misalignment`` -> ``agentic_misalignment``,
    ``evals/mine.py@probe`` -> ``probe``, ``evals/mine.py`` -> ``mine``."""
    name = task.split("@", 1)[1] if "@" in task else Path(task.split("/")[-1]).stem
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def conditions(task_args: Mapping, task_grid: list[Mapping]) -> list[Condition]:
    """The grid's conditions, in order, without repeats. Every entry of ``task_grid`` is a product over its
    arguments' value lists (a scalar is a list of one); ``task_args`` are under every condition. A condition
    is named by the values of the arguments that differ between conditions (``leaking_explicit_america``)."""
    cells: list[dict] = []
    for i, entry in enumerate(task_grid or [{}]):
        if not isinstance(entry, Mapping):
            raise MsmError(f"eval.task_grid[{i}] must map task arguments to lists of values, got {entry!r}")
        keys = list(entry)
        values = [v if isinstance(v, (list, tuple)) else [v] for v in entry.values()]
        for k, v in zip(keys, values):
            if not v:
                raise MsmError(f"eval.task_grid[{i}].{k} is an empty list: a product over it has no condition")
        for combo in itertools.product(*values):
            cell = {**dict(task_args or {}), **dict(zip(keys, combo))}
            if cell not in cells:
                cells.append(cell)
    varying = [k for k in dict.fromkeys(k for c in cells for k in c) if len({repr(c.get(k)) for c in cells}) > 1]
    out = []
    for cell in cells:
        label = "_".join(_slug(cell.get(k)) for k in varying) or "all"
        out.append(Condition(label, cell))
    if len({c.name for c in out}) != len(out):
        raise MsmError("eval.task_grid: two conditions get the same name; make their values differ in text")
    return out


def varied(conds: list[Condition]) -> list[str]:
    """The task arguments whose value differs between conditions (the grid's dimensions)."""
    keys = dict.fromkeys(k for c in conds for k in c.args)
    return [k for k in keys if len({repr(c.args.get(k)) for c in conds}) > 1]


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", str(value)).strip("-") or "none"


def task_source(task: str) -> dict:
    """What pins a task's code, for the eval's key: a local file by its content, a registry task by the
    version of the package that provides it (``inspect_evals/x`` -> inspect-evals's version), both with
    inspect_ai's own version."""
    from msm.store import files_digest

    out = {"task": task, "inspect_ai": _version("inspect_ai")}
    path = Path(task.split("@", 1)[0]).expanduser()
    if path.suffix == ".py":
        if not path.is_file():
            raise MsmError(f"eval.task={task}: no such file {path} (a registry name like "
                           "inspect_evals/agentic_misalignment, or a local file.py@task)")
        out["file"] = files_digest([path])
    else:
        package = task.split("/", 1)[0]
        out["package"] = {package: _version(package)}
    return out


def _version(module: str) -> str | None:
    dists = metadata.packages_distributions().get(module) or [module.replace("_", "-")]
    try:
        return metadata.version(dists[0])
    except metadata.PackageNotFoundError:
        return None


def check_task(task: str | None) -> list[str]:
    """Why ``eval.task`` cannot run here (nothing named, a file that is not there, a package not installed),
    checked before anything trains."""
    if not task:
        return ["eval=inspect needs eval.task: a registry name (inspect_evals/agentic_misalignment) or a local "
                "file.py@task"]
    try:
        src = task_source(task)
    except MsmError as e:
        return [str(e)]
    if "package" in src and None in src["package"].values():
        package = next(iter(src["package"]))
        return [f"eval.task={task}: the package {package!r} is not installed (pip install {package.replace('_', '-')})"]
    if src["inspect_ai"] is None:
        return ["eval=inspect needs inspect_ai (pip install inspect-ai)"]
    return []


# ---- the models: the one under test, and the grader --------------------------------------------------


def hf_model(base: str, adapter: str | None, *, label: str, chat_template: str | None, dtype: str,
             batch_size: int, device: str):
    """The model under test through inspect's ``hf`` provider: the base weights, the LoRA adapter loaded
    onto them (transformers' PEFT integration, the same adapter msm trained), msm's chat template."""
    from inspect_ai.model import get_model

    args: dict[str, Any] = {"model_path": base, "tokenizer_path": base, "device": device, "batch_size": batch_size}
    if chat_template:
        args["chat_template"] = chat_template
    if dtype and dtype != "auto":
        args["dtype"] = dtype
    model = get_model(_described(f"hf/{label}"), memoize=False, **args)  # never another job's model (same process)
    if adapter:
        model.api.model.load_adapter(adapter)  # type: ignore[attr-defined]
    return model


def served_model(model: str, base_url: str, api_key: str = "EMPTY"):
    """A model behind an OpenAI-compatible server (vLLM, transformers serve) through inspect's ``openai-api``."""
    from inspect_ai.model import get_model

    return get_model(_described(f"openai-api/msm/{model}"), base_url=base_url, api_key=api_key, memoize=False)


def _described(name: str) -> str:
    """``name``, with model info registered for it. Without it inspect looks a model it does not know up by
    making the model again from its name: for ``hf/<label>`` that loads weights from the hub (or fails
    offline), a second copy beside the one under test."""
    from inspect_ai.model import ModelInfo, set_model_info

    set_model_info(name, ModelInfo(organization="msm", model=name.split("/", 1)[1]))
    return name


def grader(judge: Mapping):
    """msm's judge config as an inspect model (None for ``judge=none``): openai -> ``openai-api`` at its
    ``base_url`` (``openai`` at the provider's own API), anthropic -> ``anthropic``, hf -> ``hf`` on the
    named weights; its temperature and token budget as the model's generation config, its key read the
    way msm's own clients read it (never sent to a server it was not meant for)."""
    from inspect_ai.model import GenerateConfig, get_model

    from msm.llm import api_key

    backend = judge["backend"]
    if backend == "none":
        return None
    config = GenerateConfig(temperature=judge.get("temperature"), max_tokens=judge.get("max_tokens"))
    if backend == "hf":
        return get_model(_described(f"hf/{judge['model']}"), config=config, model_path=judge["model"])
    key = api_key(backend, judge).get()
    if backend == "openai" and judge.get("base_url"):
        return get_model(_described(f"openai-api/msm-judge/{judge['model']}"), config=config,
                         base_url=judge["base_url"], api_key=key)
    if backend in ("openai", "anthropic"):
        return get_model(f"{backend}/{judge['model']}", config=config, base_url=judge.get("base_url"), api_key=key)
    raise MsmError(f"judge.backend={backend}: no inspect model for it (openai, anthropic, hf or none)")


# ---- running the grid, and reading the logs back ------------------------------------------------------


def run(task: str, conds: list[Condition], model, *, grader_model=None, grader_arg: str | None, log_dir: Path,
        epochs: int, generate: Mapping, seed: int, limit: int | None = None) -> list[Path]:
    """Run every condition of the grid with inspect's ``eval``, one call per condition (each its own task
    arguments) on one loaded model; return the ``.eval`` logs, one per condition, named by it. A condition
    whose log says it did not finish stops the stage with inspect's own error."""
    from inspect_ai import eval as inspect_eval
    from transformers import set_seed

    log_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    roles = {"grader": grader_model} if grader_model is not None else None
    for cond in conds:
        args = dict(cond.args)
        if grader_model is not None and grader_arg:
            args[grader_arg] = grader_model  # a task that takes no such argument ignores it
        set_seed(seed)
        scratch = log_dir / f".{cond.name}"
        (log,) = inspect_eval(task, model=model, model_roles=roles, task_args=args, log_dir=str(scratch),
                              epochs=epochs, limit=limit, display="none", fail_on_error=False, seed=seed,
                              log_format="eval", score_display=False,
                              **{k: v for k, v in generate.items() if v is not None})
        if log.status != "success":
            raise MsmError(f"inspect task {task} ({cond.name}) ended {log.status}: "
                           f"{log.error.message if log.error else 'no error recorded'} (log: {log.location})")
        path = log_dir / f"{cond.name}.eval"
        os.replace(log.location, path)
        scratch.rmdir()
        paths.append(path)
    return paths


def read(paths: list[Path], conds: list[Condition]) -> list[dict]:
    """One row per sample and epoch of every condition's log: the condition, its arguments, the answer, each
    score as a number (None when the sample errored or was not scored) with the scorer's explanation."""
    from inspect_ai.log import read_eval_log

    rows = []
    for path, cond in zip(paths, conds):
        log = read_eval_log(str(path))
        for s in log.samples or []:
            scores: dict[str, float | None] = {}
            explanations = {}
            for scorer, score in (s.scores or {}).items():
                for key, value in _score_values(scorer, score.value).items():
                    scores[key] = value
                explanations[scorer] = score.explanation
            rows.append({"condition": cond.name, "task_args": _jsonable(cond.args), "sample_id": s.id,
                         "epoch": s.epoch, "completion": s.output.completion if s.output else "",
                         "scores": scores, "explanations": explanations,
                         "error": s.error.message if s.error else None, "log": path.name})
    return rows


def _score_values(scorer: str, value: Any) -> dict[str, float | None]:
    from inspect_ai.scorer import value_to_float

    to_float = value_to_float()
    if isinstance(value, Mapping):
        return {str(k): _as_rate(to_float, v) for k, v in value.items()}
    return {scorer: _as_rate(to_float, value)}


def _as_rate(to_float, value) -> float | None:
    try:
        x = float(to_float(value))
    except (TypeError, ValueError):
        return None
    return x if 0.0 <= x <= 1.0 else None  # a score outside [0, 1] is not a rate


def _jsonable(args: Mapping) -> dict:
    return {k: v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v) for k, v in args.items()}


def summarize(task: str, rows: list[dict], conds: list[Condition]) -> dict:
    """``inspect/<task>/<score>/...`` rates with ``n``, ``k`` and ``failures``: per condition, per value of
    each varied argument (the mean of its conditions' rates), and the mean over conditions."""
    stem = f"{METRIC_PREFIX}/{task_name(task)}"
    keys = list(dict.fromkeys(k for r in rows for k in r["scores"]))
    dims = varied(conds)
    by_name = {c.name: c for c in conds}
    metrics: dict = {f"{stem}/conditions": len(conds), f"{stem}/samples": len(rows)}
    for key in keys:
        cond_rates: dict[str, float] = {}
        totals = {"k": 0.0, "n": 0, "failures": 0}
        for cond in conds:
            values = [r["scores"].get(key) if r["error"] is None else None
                      for r in rows if r["condition"] == cond.name]
            valid = [v for v in values if v is not None]
            counts = {"k": sum(valid), "n": len(valid), "failures": len(values) - len(valid)}
            metrics.update({f"{stem}/{key}/{cond.name}/{c}": v for c, v in counts.items()})
            totals = {c: totals[c] + counts[c] for c in totals}
            if valid:
                metrics[f"{stem}/{key}/{cond.name}/rate"] = cond_rates[cond.name] = sum(valid) / len(valid)
        by_value: dict[str, list[float]] = defaultdict(list)
        for name, rate in cond_rates.items():
            for dim in dims if len(dims) > 1 else ():  # one dimension: its values are the conditions
                by_value[f"{dim}={_slug(by_name[name].args.get(dim))}"].append(rate)
        for label, rates in by_value.items():
            metrics[f"{stem}/{key}/{label}/rate"] = sum(rates) / len(rates)
        metrics.update({f"{stem}/{key}/{c}": v for c, v in totals.items()})
        if cond_rates:
            metrics[f"{stem}/{key}/rate"] = sum(cond_rates.values()) / len(cond_rates)
    if rows and not any(f"{stem}/{key}/rate" in metrics for key in keys):
        failed = sorted({r["error"] for r in rows if r["error"]})[:3]
        raise MsmError(f"inspect task {task}: no sample was scored ({len(rows)} samples"
                       + (f"; errors: {'; '.join(failed)}" if failed else "") + ")")
    return metrics
