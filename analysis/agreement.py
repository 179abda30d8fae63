"""Judge agreement: when the loaded jobs grade the same transcripts with two or more judges, how far they agree.

Transcripts and their grading are two artifacts (``samples`` and ``verdicts``, msm/stages/evals.py), and every
job records the keys of both (``samples/key``, ``verdicts/key``, and ``base/...`` for the untrained model), so
jobs that differ only in their judge share their transcripts. For every set of transcripts graded by two or
more judges this compares every pair of judges on the judge's ``classifier_verdict``, transcript by transcript:
overall and per scenario, with the statistics of :func:`msm.evals.agentic.agreement.agreement` (percent
agreement, Cohen's kappa with a 95% interval, each judge's rate, the paired difference and McNemar's exact
test; failures of either judge counted and left out). A judge is named by the judge fields that differ
between the jobs (``judge.model=a``), else its option name.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pandas as pd

from msm.evals.agentic.agreement import agreement

from .results import config_columns

KEYS = {"trained": ("samples/key", "verdicts/key"), "base": ("base/samples/key", "base/verdicts/key")}


@functools.lru_cache(maxsize=256)
def _graded(job_dir: str) -> dict[str, dict[tuple[str, int], dict]]:
    """``{role: {(condition, sample): row}}`` of a job's graded transcripts (trained, base), read once."""
    path = Path(job_dir) / "samples.jsonl"
    out: dict[str, dict] = {"trained": {}, "base": {}}
    if path.is_file():
        with path.open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if "condition" in row:
                    out.setdefault(row.get("model_role", "trained"), {})[(row["condition"], int(row.get("sample", 0)))] = row
    return out


def _judge_names(jobs: pd.DataFrame) -> pd.Series:
    """Each job's judge as a reader names it: the judge fields that differ between ``jobs``, else the option."""
    fields = [c for c in config_columns(jobs) if c.startswith("judge.") and jobs[c].astype(str).nunique() > 1]
    if not fields:
        return jobs["judge"].astype(str) + " [" + jobs["verdicts/key"].astype(str).str[:8] + "]"
    return jobs[fields].astype(str).apply(lambda r: ", ".join(f"{f}={v}" for f, v in r.items()), axis=1)


def judge_agreement(jobs: pd.DataFrame) -> pd.DataFrame:
    """One row per (transcripts, model role, pair of judges, scope): scope ``all`` or a scenario."""
    _graded.cache_clear()  # a job folder rewritten since (a rerun) is read again
    columns = ["samples", "model_role", "judge_a", "judge_b", "scope", "n", "agreement", "kappa", "kappa_lo",
               "kappa_hi", "rate_a", "rate_b", "diff", "mcnemar_p", "failures_a", "failures_b", "failures_either",
               "yes_yes", "yes_no", "no_yes", "no_no"]
    if "samples/key" not in jobs or "verdicts/key" not in jobs:
        return pd.DataFrame(columns=columns)
    names = _judge_names(jobs)
    rows = []
    for role, (samples_col, verdicts_col) in KEYS.items():
        if samples_col not in jobs:
            continue
        graded = jobs[jobs[samples_col].notna() & jobs[verdicts_col].notna()]
        for samples_key, group in graded.groupby(samples_col, sort=True):
            judges = group.drop_duplicates(verdicts_col)
            if len(judges) < 2:
                continue
            loaded = {j[verdicts_col]: (names[i], _graded(str(j["job_dir"])).get(role)) for i, j in judges.iterrows()}
            loaded = {k: v for k, v in loaded.items() if v[1]}
            keys = sorted(loaded, key=lambda k: loaded[k][0])
            for x, key_a in enumerate(keys):
                for key_b in keys[x + 1:]:
                    (name_a, va), (name_b, vb) = loaded[key_a], loaded[key_b]
                    items = sorted(set(va) & set(vb))
                    scopes = {"all": items}
                    for item in items:
                        scopes.setdefault(va[item].get("scenario", "?"), []).append(item)
                    for scope, chosen in scopes.items():
                        stats = agreement([va[i].get("classifier_verdict") for i in chosen],
                                          [vb[i].get("classifier_verdict") for i in chosen])
                        rows.append({"samples": str(samples_key), "model_role": role, "judge_a": name_a,
                                     "judge_b": name_b, "scope": scope, **stats})
    return pd.DataFrame(rows, columns=columns)


def format_agreement(table: pd.DataFrame) -> str:
    """The agreement table as printed: one line per pair of judges and scope."""
    def num(x, fmt="{:.3f}"):
        return "-" if pd.isna(x) else fmt.format(x)

    lines = ["== judge agreement (the same transcripts, graded by each judge; failures left out) =="]
    for (samples, role, a, b), part in table.groupby(["samples", "model_role", "judge_a", "judge_b"], sort=False):
        lines.append(f"-- transcripts {samples[:8]} ({role} model): {a}  vs  {b} --")
        for r in part.itertuples():
            lines.append(f"  {r.scope:<14} n={r.n:<5} agree {num(r.agreement)}  kappa {num(r.kappa)} "
                         f"[{num(r.kappa_lo)}, {num(r.kappa_hi)}]  rates {num(r.rate_a)} vs {num(r.rate_b)} "
                         f"(diff {num(r.diff, '{:+.3f}')}, McNemar p={num(r.mcnemar_p, '{:.4g}')})  "
                         f"failures {r.failures_a}/{r.failures_b}")
    return "\n".join(lines)
