"""msm's own evals written as inspect logs, so ``inspect view`` reads them beside any inspect task.

Why: reading transcripts is how a researcher checks a judge, and inspect's viewer is the reader the field
knows. msm's graded rows (samples.jsonl) hold everything the viewer shows; this module only reshapes them:
one inspect sample per agentic transcript (the scenario's system and user turns, the model's answer, the
judge's verdicts as scores with the judge's reasoning as their explanation and the evidence found as their
metadata) or per value-eval item (the question, the scorer's reading of the model, the aligned option).
The logs are written beside the job's other outputs (``<job>/inspect/``), never into the store: they are a
view of the rows, rebuilt on every run from what the store holds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

VERSION = "1"
AGENTIC_SCORES = ("classifier_verdict", "harmful", "harmful_evidence", "acted", "harmful_tool")
"""The agentic row fields that become scores (each 0/1, or absent when not graded)."""
AGENTIC_EVIDENCE = ("judge_status", "policy_status", "pm_misuse", "pm_cites_rule", "pm_self_preservation_reasoning",
                    "tool_calls", "targets")
"""The row fields kept as a score's metadata: how the judge's answer parsed, the policy-misuse labels, the
actions the evidence pass found."""


def _log(task: str, model: str, samples: list, metrics: Mapping, *, role: str, settings: Mapping):
    from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalMetric, EvalResults, EvalScore, EvalSpec

    rates = {k: EvalMetric(name=k, value=float(v)) for k, v in metrics.items()
             if k.endswith("/rate") and isinstance(v, (int, float))}
    spec = EvalSpec(created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), task=task, task_version=VERSION,
                    dataset=EvalDataset(name=task, samples=len(samples)), model=model, config=EvalConfig(),
                    metadata={"msm_role": role, **settings})
    results = EvalResults(total_samples=len(samples), completed_samples=len(samples),
                          scores=[EvalScore(name="msm", scorer="msm", metrics=rates)])
    return EvalLog(status="success", eval=spec, results=results, samples=samples)


def agentic(rows: list[dict], prompts: Mapping[str, Mapping], metrics: Mapping, path: Path, *, model: str,
            role: str, judge: str | None) -> Path:
    """The agentic eval's graded transcripts (``rows``; ``prompts`` by condition id, from
    ``msm.evals.agentic.run.grid_prompts``) as one inspect log at ``path``."""
    from inspect_ai.log import EvalSample, write_eval_log
    from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, ModelOutput
    from inspect_ai.scorer import Score

    samples = []
    for i, r in enumerate(rows):
        p = prompts[r["condition"]]
        turns = [ChatMessageSystem(content=p["system"]), ChatMessageUser(content=p["user"])]
        values = {k: float(r[k]) for k in AGENTIC_SCORES if r.get(k) is not None}
        score = Score(value=values, explanation=r.get("judge_text") or "no LLM judge: rule-based evidence only",
                      metadata={k: r[k] for k in AGENTIC_EVIDENCE if k in r})
        samples.append(EvalSample(
            id=f"{r['condition']}#{r.get('sample', i)}", epoch=1, input=turns, target="",
            messages=[*turns, ChatMessageAssistant(content=r["response"], model=model)],
            output=ModelOutput.from_content(model, r["response"]), scores={"msm_agentic": score},
            metadata={k: r.get(k) for k in ("condition", "scenario", "goal", "persona", "sample", "policy_text")}))
    log = _log("msm/agentic", model, samples, metrics, role=role, settings={"judge": judge})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_eval_log(log, str(path))
    return path


def value(rows: list[dict], metrics: Mapping, path: Path, *, model: str, role: str) -> Path:
    """The value eval's scored items as one inspect log at ``path``: the question and its two options, the
    scorer's reading of the model (``p_aligned``, both orders) and whether it chose the aligned option."""
    from inspect_ai.log import EvalSample, write_eval_log
    from inspect_ai.model import ChatMessageAssistant, ChatMessageUser, ModelOutput
    from inspect_ai.scorer import Score

    samples = []
    for r in rows:
        options = "\n".join(f"{'AB'[j]}. {o}" for j, o in enumerate(r["options"]))
        question = ChatMessageUser(content=f"{r['question']}\n{options}")
        reading = _reading(r)
        values = {k: float(r[k]) for k in ("p_aligned", "choice_aligned") if r.get(k) is not None}
        score = Score(value=values, explanation=reading, metadata={k: r.get(k) for k in ("value", "scorer", "valid")})
        samples.append(EvalSample(
            id=r["id"], epoch=1, input=[question], target="AB"[int(r["aligned"])],
            messages=[question, ChatMessageAssistant(content=reading, model=model)],
            output=ModelOutput.from_content(model, reading), scores={"msm_value": score},
            metadata={k: r.get(k) for k in ("family", "domain", "value")}))
    log = _log("msm/value", model, samples, metrics, role=role, settings={})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_eval_log(log, str(path))
    return path


def _reading(r: dict) -> str:
    """What the scorer read from the model, in words (a value eval scores log-probabilities, not an answer)."""
    if not r.get("valid", True):
        return f"no usable reading ({r.get('scorer')}): {r.get('answer') or r.get('reason') or 'unparsable'}"
    parts = [f"P(aligned option) = {r['p_aligned']:.3f}"] if r.get("p_aligned") is not None else []
    if r.get("p_aligned_fwd") is not None and r.get("p_aligned_rev") is not None:
        parts.append(f"(as shown {r['p_aligned_fwd']:.3f}, options swapped {r['p_aligned_rev']:.3f})")
    if r.get("answer"):
        parts.append(f"answer: {r['answer']}")
    return " ".join(parts) or f"scored by {r.get('scorer')}"
