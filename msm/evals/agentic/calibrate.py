"""How well a judge agrees with the rubrics, on hand-labelled outputs (``calibration.yaml``).

The command is ``calibrate.py`` at the repository root (``python calibrate.py judge=anthropic ...``).
Every labelled output is graded exactly as the eval grades samples (same rubric, same request, same
parser), so a judge that scores well here is the judge the eval needs; one that does not should not be trusted with the misalignment rate. Failures
(unparsable, refused, truncated) are reported beside agreement and left out of it, as in the eval.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from msm import yamlfile
from msm.errors import MsmError
from msm.evals.agentic.verdicts import POLICY_MISUSE_LABELS as PM_LABELS

CALIBRATION = Path(__file__).resolve().parent / "calibration.yaml"
SCENARIO_FIELDS = {"id": str, "condition": str, "decided": bool, "evidence": bool, "output": str}
POLICY_FIELDS = {"id": str, "spec": str, "labels": dict, "scratchpad": str}


def _check(path: Path, where: str, i: int, item, fields: dict) -> None:
    if not isinstance(item, dict):
        raise MsmError(f"{path}: {where}[{i}] must be a mapping with {', '.join(fields)}")
    for name, kind in fields.items():
        if not isinstance(item.get(name), kind):
            raise MsmError(f"{path}: {where}[{i}].{name} must be a {kind.__name__}, got {item.get(name)!r}")


def load(path: Path = CALIBRATION) -> tuple[list[dict], list[dict]]:
    """The scenario items and the policy-misuse items, checked field by field."""
    from msm.evals.agentic.assemble import Condition

    data = yamlfile.load(path.read_text(encoding="utf-8"), path) or {}
    scenarios, policy = data.get("scenarios") or [], data.get("policy_misuse") or []
    for i, item in enumerate(scenarios):
        _check(path, "scenarios", i, item, SCENARIO_FIELDS)
        Condition.from_id(item["condition"])  # a malformed id raises, naming it
    for i, item in enumerate(policy):
        _check(path, "policy_misuse", i, item, POLICY_FIELDS)
        labels = item["labels"]
        if set(labels) != set(PM_LABELS) or not all(isinstance(v, bool) for v in labels.values()):
            raise MsmError(f"{path}: policy_misuse[{i}].labels must give yes or no for each of {', '.join(PM_LABELS)}")
    ids = [item["id"] for item in scenarios + policy]
    if len(set(ids)) != len(ids):
        raise MsmError(f"{path}: ids used twice: {sorted({x for x in ids if ids.count(x) > 1})}")
    return scenarios, policy


def _agreement(pairs: list[tuple[bool, bool | None]]) -> dict:
    """Agreement of judged values with labels, failures (None) left out; with the confusion counts."""
    judged = [(want, got) for want, got in pairs if got is not None]
    c = {"tp": sum(w and g for w, g in judged), "fp": sum(g and not w for w, g in judged),
         "tn": sum(not w and not g for w, g in judged), "fn": sum(w and not g for w, g in judged)}
    return {"agreement": (c["tp"] + c["tn"]) / len(judged) if judged else None, "n": len(judged),
            "failures": len(pairs) - len(judged), **c}


def _compared(pairs: list[tuple[bool, bool | None]]) -> dict:
    """The statistics the analysis reports between two judges on the same transcripts (msm.evals.agentic.agreement:
    Cohen's kappa with its 95% interval, each grader's rate, McNemar's exact test), here the hand labels against
    the judge, failures left out."""
    from msm.evals.agentic.agreement import agreement

    stats = agreement([w for w, _ in pairs], [g for _, g in pairs])
    return {**{k: stats[k] for k in ("n", "kappa", "kappa_lo", "kappa_hi", "diff", "mcnemar_p")},
            "rate_labels": stats["rate_a"], "rate_judge": stats["rate_b"]}


def _statistics(scen_rows: list[dict], pm_rows: list[dict]) -> dict:
    """:func:`_compared` per scenario (and over all) and per policy-misuse label."""
    by_scenario: dict[str, list] = defaultdict(list)
    for r in scen_rows:
        by_scenario[r["scenario"]].append((r["expected"], r["classifier_verdict"]))
    out = {"all": _compared([p for ps in by_scenario.values() for p in ps])}
    out.update({s: _compared(ps) for s, ps in sorted(by_scenario.items())})
    out.update({f"policy_misuse/{label}": _compared([(r["expected"][label], r["labels"][label] if r["labels"] else None)
                                                     for r in pm_rows]) for label in PM_LABELS})
    return out


def grade_scenarios(items: list[dict], judge, judge_cfg) -> tuple[dict, list[dict]]:
    """Judge every scenario item through the eval's own grading; agreement overall and per scenario."""
    from msm.evals.agentic.assemble import Condition, build_prompt
    from msm.evals.agentic.run import grade

    prompts = {c: build_prompt(Condition.from_id(c)) for c in {it["condition"] for it in items}}
    rows = [{"id": it["id"], "condition": it["condition"], "scenario": Condition.from_id(it["condition"]).scenario,
             "response": it["output"]} for it in items]
    grade(rows, prompts, judge, judge_cfg, spec_rules="", policy=False)
    by_scenario: dict[str, list] = defaultdict(list)
    for it, r in zip(items, rows):
        r.update(expected=it["decided"], expected_evidence=it["evidence"])
        by_scenario[r["scenario"]].append((it["decided"], r["classifier_verdict"]))
    report = {"all": _agreement([p for ps in by_scenario.values() for p in ps])}
    report.update({s: _agreement(ps) for s, ps in sorted(by_scenario.items())})
    return report, rows


def grade_policy_misuse(items: list[dict], judge, judge_cfg) -> tuple[dict, list[dict]]:
    """Judge every scratchpad with the policy-misuse rubric against its spec's rules; agreement per label."""
    from msm.evals.agentic.run import judge_request, spec_rules_text
    from msm.evals.agentic.verdicts import parse_policy_misuse, render_rubric
    from msm.paths import SPECS_DIR
    from msm.specs import load_spec

    rules = {name: spec_rules_text(load_spec(SPECS_DIR / f"{name}.md")) for name in {it["spec"] for it in items}}
    reqs = [judge_request(render_rubric("policy_misuse", rules=rules[it["spec"]], scratchpad=it["scratchpad"]),
                          "judge/policy_misuse", judge_cfg) for it in items]
    rows = []
    for it, resp in zip(items, judge.complete_many(reqs, desc="judge policy misuse")):
        v = parse_policy_misuse(resp.text) if resp.ok else None
        rows.append({"id": it["id"], "status": v.status if v else resp.finish_reason, "expected": it["labels"],
                     "labels": v.labels if v is not None and v.ok else None})
    report = {label: _agreement([(r["expected"][label], r["labels"][label] if r["labels"] else None) for r in rows])
              for label in PM_LABELS}
    return report, rows


def calibrate(judge, judge_cfg) -> dict:
    """Grade every labelled item with ``judge``; the report: agreement per scenario and per policy-misuse
    label, and every item with what the judge said."""
    scen_items, pm_items = load()
    scen_report, scen_rows = grade_scenarios(scen_items, judge, judge_cfg)
    pm_report, pm_rows = grade_policy_misuse(pm_items, judge, judge_cfg)
    outcomes = {"scenarios": _outcomes(scen_rows, "judge_status", "scenario"),
                "policy_misuse": dict(Counter(r["status"] for r in pm_rows))}
    return {"judge": {"backend": str(judge_cfg.backend), "model": judge_cfg.model}, "scenarios": scen_report,
            "policy_misuse": pm_report, "statistics": _statistics(scen_rows, pm_rows),
            "parser_outcomes": outcomes, "scenario_items": scen_rows,
            "policy_misuse_items": pm_rows}


def _outcomes(rows: list[dict], status: str, by: str) -> dict:
    """How the parser read the judge's answers (ok, unparsable, refusal, truncated, ...), overall and per
    ``by``: a judge that drifts (starts refusing, stops closing tags) shows up here before in the rates."""
    per = defaultdict(Counter)
    for r in rows:
        per[r[by]][r[status]] += 1
    return {"all": dict(sum(per.values(), Counter())), **{k: dict(v) for k, v in sorted(per.items())}}


def _fmt(a: dict) -> str:
    agree = "n/a" if a["agreement"] is None else f"{a['agreement']:.2f}"
    return (f"agreement {agree} (n={a['n']}, failures={a['failures']}; "
            f"tp={a['tp']} fp={a['fp']} tn={a['tn']} fn={a['fn']})")


def _fmt_statistics(a: dict) -> str:
    num = lambda x, f="{:.2f}": "n/a" if x is None or x != x else f.format(x)  # noqa: E731  (NaN: undefined)
    return (f"kappa {num(a['kappa'])} [{num(a['kappa_lo'])}, {num(a['kappa_hi'])}], rates {num(a['rate_labels'])} "
            f"(labels) vs {num(a['rate_judge'])} (judge), McNemar p={num(a['mcnemar_p'], '{:.3g}')} (n={a['n']})")


def summary_lines(report: dict) -> list[str]:
    """The report as a reader wants it on the console: one line per scenario and per label."""
    judge = report["judge"]
    lines = [f"judge {judge['backend']}:{judge['model']} against {CALIBRATION.name}"]
    lines += [f"  verdict  {name:<14} {_fmt(a)}" for name, a in report["scenarios"].items()]
    lines += [f"  policy   {name:<14} {_fmt(a)}" for name, a in report["policy_misuse"].items()]
    lines += [f"  kappa    {name:<14} {_fmt_statistics(a)}" for name, a in report.get("statistics", {}).items()]
    outcomes = report.get("parser_outcomes", {})
    lines += [f"  parser   {name:<14} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
              for name, counts in [*outcomes.get("scenarios", {}).items(), ("policy_misuse", outcomes.get("policy_misuse", {}))]]
    return lines
