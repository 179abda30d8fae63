"""``python -m msm.sweep status|collect <sweep folder>``: a sweep seen from its folder and from Slurm.

A Hydra sweep's end-of-sweep step runs in the launching process, which blocks until every job ends; a
login shell that dies takes that step with it, while the Slurm array runs on. These two commands work
from what outlives the launcher:

- ``status``: one line per job: queued, running, requeued n times, done, failed with the last error
  line, or killed (Slurm's final state), from the job folders (``status.json``, ``provenance.json``) and
  Slurm's accounting (``sacct``) for the array that submitit recorded under ``<sweep>/.submitit/``.
  When the sweep folder holds the plan made at launch (``plan.json``, msm/plan.py), a second table sets
  each stage's estimate beside what the jobs recorded (``artifacts.json``): builds, LLM calls and cost,
  and compute time.
- ``collect``: the end-of-sweep step (tables, figures, the failed jobs and the closing line), as the
  launcher would have run it; exits 1 if a job failed, 2 if some have not ended yet.

A job folder is ``<sweep>/<n>``; under the Slurm launcher job n is task n of the array.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from msm.plan import PLAN_FILE

_SUBMITTED = re.compile(r"^(\d+)_(\d+)_submitted\.pkl$")
ACTIVE = {"PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED", "CONFIGURING", "COMPLETING"}


@dataclass
class JobState:
    number: int
    state: str  # queued | running | done | failed | interrupted | killed | stopped | not started
    restarts: int = 0
    slurm_id: str | None = None
    slurm_state: str | None = None
    detail: str = ""

    @property
    def ended(self) -> bool:
        return self.state not in ("queued", "running")


def _read(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
        return record if isinstance(record, dict) else {}
    except (OSError, ValueError):
        return {}


def array_tasks(sweep: Path) -> dict[int, str]:
    """{task number: Slurm job id "<array>_<task>"} from the files submitit writes when it submits."""
    tasks = {}
    for path in (sweep / ".submitit").rglob("*_submitted.pkl"):
        if m := _SUBMITTED.match(path.name):
            tasks[int(m.group(2))] = f"{m.group(1)}_{m.group(2)}"
    return tasks


def slurm_states(ids: list[str]) -> dict[str, str]:
    """{job id: state} from ``sacct`` (empty without Slurm); a requeued job's latest record wins."""
    if not ids or shutil.which("sacct") is None:
        return {}
    arrays = sorted({i.split("_")[0] for i in ids})
    try:
        out = subprocess.run(["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(arrays)],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    states = {}
    for line in out.stdout.splitlines():
        job, _, state = line.partition("|")
        states[job.strip()] = state.split()[0] if state.strip() else "UNKNOWN"  # "CANCELLED by 0" -> CANCELLED
    return states


def job_states(sweep: Path) -> list[JobState]:
    sweep = Path(sweep)
    tasks = array_tasks(sweep)
    folders = {int(p.name): p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit()} if sweep.is_dir() else {}
    slurm = slurm_states(list(tasks.values()))
    out = []
    for n in sorted(set(tasks) | set(folders)):
        job = JobState(n, "not started", slurm_id=tasks.get(n))
        job.slurm_state = slurm.get(job.slurm_id or "")
        folder = folders.get(n)
        status = _read(folder / "status.json") if folder else {}
        origin = _read(folder / "provenance.json") if folder else {}
        job.restarts = int(((origin.get("slurm") or {}).get("restarts")) or 0)
        recorded = status.get("status")
        if folder is not None and (folder / "metrics.json").is_file():
            job.state = "done"
        elif recorded in ("failed", "interrupted"):
            job.state, job.detail = recorded, (status.get("error") or "").splitlines()[0] if status.get("error") else ""
        elif recorded == "finished":
            job.state, job.detail = "stopped", f"stages={status.get('stages')}: no eval, so no metrics"
        elif job.slurm_state in ("PENDING", "REQUEUED", "CONFIGURING"):
            job.state = "queued"
        elif job.slurm_state in ACTIVE or (recorded == "running" and job.slurm_state is None and not tasks):
            job.state = "running"
        elif recorded == "running" or job.slurm_state:
            job.state = "killed"
            job.detail = f"Slurm: {job.slurm_state}" if job.slurm_state else "no metrics and no Slurm record"
        out.append(job)
    return out


def render(jobs: list[JobState]) -> str:
    lines = [f"{'job':>4}  {'state':<12} {'restarts':>8}  {'slurm id':<12} detail"]
    for j in jobs:
        state = f"requeued {j.restarts}x" if j.restarts and j.state in ("queued", "running") else j.state
        lines.append(f"{j.number:>4}  {state:<12} {j.restarts:>8}  {j.slurm_id or '-':<12} {j.detail}")
    counts: dict[str, int] = {}
    for j in jobs:
        counts[j.state] = counts.get(j.state, 0) + 1
    lines.append(f"{len(jobs)} job(s): " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return "\n".join(lines)


def actual_usage(sweep: Path) -> dict[str, dict]:
    """Per stage, what the sweep's jobs recorded: distinct artifacts built, LLM calls (and cache hits) and
    cost their builds counted, and the builds' wall hours (on whatever device the job ran)."""
    built: dict[tuple[str, str], dict] = {}
    for path in sorted(Path(sweep).glob("*/artifacts.json")):
        try:
            records = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for r in records if isinstance(records, list) else []:
            if r.get("built"):
                built.setdefault((r["stage"], r["key"]), r)
    out: dict[str, dict] = {}
    for (stage, _), r in built.items():
        row = out.setdefault(stage, {"build": 0, "llm_calls": 0, "cache_hits": 0, "cached_tokens": 0, "cost_usd": 0.0,
                                     "hours": 0.0})
        usage = r.get("llm_usage") or {}
        row["build"] += 1
        row["llm_calls"] += usage.get("calls", 0)
        row["cache_hits"] += usage.get("cache_hits", 0)
        row["cached_tokens"] += usage.get("cache_read_tokens", 0)
        row["cost_usd"] += usage.get("cost_usd", 0.0)
        row["hours"] += r.get("seconds", 0.0) / 3600
    return out


def render_spend(plan: dict, actual: dict[str, dict]) -> str:
    """The plan's estimate beside what was built and spent, per stage."""
    lines = ["estimate (plan.json, made at launch) vs actual (the jobs' artifacts.json), per stage:",
             f"{'stage':<11}{'builds':>11}{'LLM calls (cached)':>26}{'prompt-cache tokens':>24}{'USD':>17}"
             f"{'GPU-h est':>11}{'hours':>9}"]
    for stage in dict.fromkeys([*plan.get("stages", {}), *actual]):
        e, a = plan.get("stages", {}).get(stage, {}), actual.get(stage, {})
        calls = f"{e.get('llm_calls', 0):,} / {a.get('llm_calls', 0):,} ({a.get('cache_hits', 0):,})"
        cached = f"{e.get('cached_tokens', 0):,} / {a.get('cached_tokens', 0):,}"
        usd = f"{e.get('cost_usd', 0):.2f} / {a.get('cost_usd', 0):.2f}"
        lines.append(f"{stage:<11}{e.get('build', 0):>5} / {a.get('build', 0):<3}{calls:>26}{cached:>24}{usd:>17}"
                     f"{e.get('gpu_hours', 0):>11.3g}{a.get('hours', 0):>9.3g}")
    lines.append("builds, calls, prompt-cache reads and USD: estimate / actual (USD with prompt caching and batch "
                 "discounts); hours: the builds' wall time, on the device each job had")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msm.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["status", "collect"])
    parser.add_argument("sweep", type=Path, help="the sweep folder (hydra.sweep.dir)")
    args = parser.parse_args(argv)
    if not args.sweep.is_dir():
        print(f"error: {args.sweep}: no such sweep folder", file=sys.stderr)
        return 2
    jobs = job_states(args.sweep)
    print(render(jobs))
    if args.command == "status":
        plan = _read(args.sweep / PLAN_FILE)
        if plan:
            print("\n" + render_spend(plan, actual_usage(args.sweep)))
        return 0
    from analysis.callback import finish_sweep

    waiting = [j for j in jobs if not j.ended]
    failed = finish_sweep(args.sweep)
    if waiting:
        print(f"{len(waiting)} job(s) have not ended yet: collect again when they have")
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
