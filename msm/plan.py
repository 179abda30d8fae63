"""The sweep plan and its spend gate: what a sweep will build, reuse and cost, before anything runs.

    python train.py -m spec=rules,value_aug,rule_aug seed=0-3 model=tiny plan=true    # print it, run nothing
    python train.py -m experiment=agentic model=qwen3_32b seed=0-3 budget.usd=500     # launch only within budget

Every stage's key is known from the settings before anything is built (``msm.pipeline.plan``), so the
plan is exact about *what*: for each job of the sweep the same composition Hydra's launcher will run,
each artifact it needs, whether the content-addressed store already holds it, and which jobs share it.
How much each build costs is an estimate (``msm.stages.estimate``, with the assumptions it made).

:class:`PlanSweep`, a Hydra callback (``conf/train.yaml``), runs in the launching process before the
first job is launched, local or Slurm alike. It writes ``plan.json`` into the sweep folder at every
sweep start (``python -m msm.sweep status`` later reads it beside what each job recorded, for estimate
against actual), prints the table and stops under ``plan=true``, and stops a sweep whose estimate exceeds
``budget.usd`` or ``budget.gpu_hours`` unless ``budget.confirm=true``. Without a budget or ``plan=true`` a
sweep that cannot be planned (a malformed spec, say) is launched anyway: each job then fails on its own
with the reason, as before.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from msm.errors import MsmError
from msm.jsonl import write_json

log = logging.getLogger(__name__)
PLAN_FILE = "plan.json"
TOTALS = ("llm_calls", "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "cost_usd", "gpu_hours")


@dataclass
class Need:
    """One artifact the sweep needs, and the jobs that need it (job numbers: the sweep's subfolders)."""

    stage: str
    key: str
    stored: bool
    jobs: list[int] = field(default_factory=list)
    estimate: dict | None = None  # msm.stages.estimate.Estimate, for an artifact still to build


def job_needs(cfg: DictConfig) -> list[tuple[str, str, bool, dict | None]]:
    """(stage, key, in the store, estimate if not) of every artifact one job needs, in build order: the
    job's own plan, made exactly as ``msm.pipeline`` makes it."""
    from msm.job import resolve
    from msm.pipeline import plan
    from msm.stages.estimate import estimate

    if cfg.datagen.preview:
        return []  # a preview builds nothing
    job = resolve(cfg)
    planned = plan(job)
    out, seen = [], set()
    for b in planned.builds().values():
        if (b.stage, b.key) in seen:  # the baseline arm's two evals are one artifact
            continue
        seen.add((b.stage, b.key))
        stored = job.store.has(b)
        out.append((b.stage, b.key, stored, None if stored else estimate(b, job, planned.builds()).as_dict()))
    return out


def sweep_plan(cfgs: list[DictConfig]) -> dict:
    """The plan of a sweep of jobs ``cfgs`` (job n is ``cfgs[n]``), as written to ``plan.json``."""
    needs: dict[tuple[str, str], Need] = {}
    problems: dict[int, str] = {}
    for n, cfg in enumerate(cfgs):
        try:
            for stage, key, stored, est in job_needs(cfg):
                needs.setdefault((stage, key), Need(stage, key, stored, estimate=est)).jobs.append(n)
        except MsmError as e:  # the job itself will fail with this reason when launched
            problems[n] = str(e).splitlines()[0]
        except Exception as e:  # e.g. a missing mandatory value: the job fails on launch, the plan goes on
            problems[n] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    from msm.pipeline import JobPlan

    order = [f.name for f in fields(JobPlan)]  # the stages in build order, as the pipeline runs them
    stages: dict[str, dict] = {}
    for need in sorted(needs.values(), key=lambda need: order.index(need.stage) if need.stage in order else len(order)):
        row = stages.setdefault(need.stage, {"needed": 0, "stored": 0, "build": 0, **dict.fromkeys(TOTALS, 0),
                                             "priced": True, "assumes": []})
        row["needed"] += 1
        row["stored" if need.stored else "build"] += 1
        for k, v in (need.estimate or {}).items():
            if k in TOTALS and v is not None:
                row[k] += v
            elif k == "priced" and not v:
                row["priced"] = False
            elif k == "assumes":
                row["assumes"] += [a for a in v if a not in row["assumes"]]
            elif k == "imported" and v:
                row.setdefault("imported", [])
                row["imported"] += [v] if v not in row["imported"] else []
    totals = {k: sum(r[k] for r in stages.values()) for k in TOTALS}
    totals["priced"] = all(r["priced"] for r in stages.values())
    return {"jobs": len(cfgs), "stages": stages, "totals": totals, "problems": problems,
            "artifacts": [vars(need) for need in needs.values()]}


def _ranges(jobs: list[int]) -> str:
    """[0, 1, 2, 3, 8] -> "0-3,8"."""
    out, start = [], None
    for i, n in enumerate(jobs):
        if start is None:
            start = n
        if i + 1 == len(jobs) or jobs[i + 1] != n + 1:
            out.append(f"{start}-{n}" if n > start else f"{start}")
            start = None
    return ",".join(out)


def render(p: dict) -> str:
    """The plan as the table a researcher reads before launching."""
    head = (f"{'stage':<11}{'needed':>7}{'stored':>7}{'build':>7}  {'LLM calls':>10}{'tokens in+out':>17}"
            f"{'USD':>10}{'GPU-h':>9}  shared by (jobs)")
    lines = [f"plan of {p['jobs']} job(s): what the sweep needs, what the store holds, what it will build", head]
    for stage, r in p["stages"].items():
        sharing = [_ranges(a["jobs"]) for a in p["artifacts"] if a["stage"] == stage]
        usd = f"{r['cost_usd']:.2f}" + ("" if r["priced"] else "?")
        lines.append(f"{stage:<11}{r['needed']:>7}{r['stored']:>7}{r['build']:>7}  {r['llm_calls']:>10,}"
                     f"{r['input_tokens'] + r['output_tokens']:>17,}{usd:>10}{r['gpu_hours']:>9.3g}  "
                     + (" | ".join(sharing) if len(sharing) <= 6 else " | ".join(sharing[:6]) + f" | ... ({len(sharing)})"))
    t = p["totals"]
    cached = (f" ({t['cached_tokens']:,} of {t['input_tokens']:,} input tokens read from the prompt cache)"
              if t.get("cached_tokens") else "")
    lines.append(f"estimate (builds only; stored artifacts cost nothing): {t['llm_calls']:,} LLM calls, "
                 f"${t['cost_usd']:.2f}{'' if t['priced'] else ' (some calls have no prices set)'}{cached}, "
                 f"{t['gpu_hours']:.3g} GPU-hours")
    lines += [f"  {stage} imported: {where}" for stage, r in p["stages"].items() for where in r.get("imported", [])]
    lines += [f"  {stage} assumes: {a}" for stage, r in p["stages"].items() for a in r["assumes"]]
    lines += [f"cannot plan job {n}: {why}" for n, why in p["problems"].items()]
    return "\n".join(lines)


def over_budget(p: dict, budget) -> str | None:
    """One line saying by how much the plan exceeds ``budget`` (None: within it, or no budget set)."""
    t, over = p["totals"], []
    if budget.usd is not None and t["cost_usd"] > budget.usd:
        over.append(f"LLM cost ${t['cost_usd']:,.2f} > budget.usd=${budget.usd:,.2f} (${t['cost_usd'] - budget.usd:,.2f} over)")
    if budget.gpu_hours is not None and t["gpu_hours"] > budget.gpu_hours:
        over.append(f"{t['gpu_hours']:,.3g} GPU-hours > budget.gpu_hours={budget.gpu_hours:g} "
                    f"({t['gpu_hours'] - budget.gpu_hours:,.3g} over)")
    if not over:
        return None
    return ("over budget, nothing launched: " + "; ".join(over)
            + " (estimated; see it with plan=true; launch anyway with budget.confirm=true)")


# ---- Hydra: the sweep's jobs, composed as the launcher will compose them ---------------------------------


def job_configs(config: DictConfig) -> list[DictConfig]:
    """Every job of the sweep that ``config`` (the launching process's config) describes, in launch order,
    composed by Hydra's own config loader from the basic sweeper's expansion of the overrides."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    loader = GlobalHydra.instance().config_loader()
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]  # an experiment's grid
    overrides = OverridesParser.create(config_loader=loader).parse_overrides(params + list(config.hydra.overrides.task))
    batches = BasicSweeper.split_arguments(overrides, None)
    return [task_config(loader.load_sweep_config(config, list(job))) for batch in batches for job in batch]


def task_config(cfg: DictConfig) -> DictConfig:
    """A composed job config as the job's task function sees it: without the ``hydra`` node."""
    with read_write(cfg), open_dict(cfg):
        del cfg["hydra"]
    return cfg


class PlanSweep(Callback):
    """Plan the sweep before launch: write plan.json, then print and stop (``plan=true``), or stop an
    over-budget sweep (``budget.*``)."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self._gate(config, Path(config.hydra.sweep.dir), lambda: job_configs(config))

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        if config.plan or _budgeted(config):  # a single job is planned only when asked
            self._gate(config, Path(config.hydra.run.dir), lambda: [task_config(copy.deepcopy(config))])

    @staticmethod
    def _gate(config: DictConfig, folder: Path, jobs) -> None:
        try:
            p = sweep_plan(jobs())
        except Exception as e:
            if config.plan or _budgeted(config):
                raise SystemExit(f"error: the sweep could not be planned ({type(e).__name__}: {e}); nothing launched")
            log.warning("the sweep could not be planned (%s: %s); launching it anyway", type(e).__name__, e)
            return
        p["budget"] = OmegaConf.to_container(config.budget)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / PLAN_FILE, p)
        if config.plan:
            print(render(p))
            print(f"plan only, nothing launched: {folder / PLAN_FILE}; drop plan=true to run it")
            raise SystemExit(0)
        if p["problems"] and _budgeted(config):
            print(f"note: {len(p['problems'])} job(s) could not be planned and are left out of the estimate "
                  "(plan=true lists them with the reason)")
        if (why := over_budget(p, config.budget)) and not config.budget.confirm:
            raise SystemExit(why)
        if why:
            print(why.replace("nothing launched", "launching anyway (budget.confirm=true)"))


def _budgeted(config: DictConfig) -> bool:
    return config.budget.usd is not None or config.budget.gpu_hours is not None
