"""The deterministic pieces of AFT data generation (msm/data/aftgen.py), kept apart so each can be
tested on hand-written model output without a model.

- ``check_think``: a demonstration is kept only if it is exactly one ``<think>`` block followed by an
  answer. Weak generators often skip, nest or never close the block; training on such rows would teach
  the broken format, so they are dropped (and counted) before any LLM filter sees them.
- ``answer_mentions_spec``: context distillation removes the spec from the saved rows, so an answer that
  talks about "my system prompt" or cites ``[SP2]`` would refer to something the trained model never saw.
- ``parse_verdict``: the filter's INCLUDE/EXCLUDE answer, read leniently; anything unreadable excludes.
- ``load_mix``: instruction-tuning rows to mix in, validated line by line (errors name file and line).
- ``no_cot_twins``, ``select``, ``backfill_per_cell``: the twin pool, trimming to the target, and how
  many questions a backfill round asks for.
- ``QUESTION_TYPES``: the six kinds of question, with their descriptions, from ``assets/aft_question_types.yaml``.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

from msm.data.listparse import parse_fields, parse_list
from msm.data.transforms import strip_think
from msm.errors import MsmError
from msm.jsonl import iter_jsonl

MIN_REASONING_WORDS = 3
STATUSES = ("ok", "truncated", "refused", "error", "malformed", "mentions_spec")  # of a generated response
FILTER_CATEGORIES = ("self_continuation", "off_spec", "mentions_spec", "malformed", "low_quality")
UNPARSABLE = "unparsable filter verdict"
AMBIGUOUS = "ambiguous filter verdict"
NOT_JSON = "not the JSON asked for"

_OPEN = re.compile(r"<think>", re.I)
_CLOSE = re.compile(r"</think>", re.I)
_SPEC_WORDS = re.compile(
    r"\b(system prompt|model spec|(?:my|the|this|your) spec(?:ification)?|"
    r"my (?:guidelines|instructions|rules|principles)|I was (?:instructed|told to|given (?:rules|guidelines)))\b",
    re.I,
)
_Q_SPEC = re.compile(
    r"\b(system prompt|model spec|spec(?:ification)?|your (?:guidelines|rules|principles|instructions))\b", re.I)

QUESTION_TYPES_FILE = Path(__file__).parent / "assets" / "aft_question_types.yaml"
QUESTION_GUIDE: dict[str, str] = yaml.safe_load(QUESTION_TYPES_FILE.read_text(encoding="utf-8"))
"""The six kinds of user question, in order, each with the description its question writer is given."""
QUESTION_TYPES = tuple(QUESTION_GUIDE)


def question_mentions_spec(question: str) -> bool:
    """A user question must not know that the assistant has a spec: the trained model will not have one
    in its context, and a question that names it would teach the model to expect one."""
    return bool(_Q_SPEC.search(question))


def parse_questions(resp, n: int, structured: bool = False) -> tuple[list[str], Counter]:
    """Up to ``n`` questions from a list answer (JSON when ``structured``), and counts: parsed, mentions_spec,
    surplus (beyond ``n``), failed_requests, json_failures, parse_failures. A truncated list loses its last
    (possibly cut) item."""
    c = Counter(requests=1)
    if not resp.ok:
        c["failed_requests"] += 1
        return [], c
    found, not_json = parse_list(resp.text, structured=structured, min_words=3, max_chars=400,
                                 truncated=resp.finish_reason == "length")
    items = [q for _, q in found]
    keep = [q for q in items if not question_mentions_spec(q)]
    c.update(parsed=len(items), mentions_spec=len(items) - len(keep), surplus=max(0, len(keep) - n),
             json_failures=int(not_json), parse_failures=int(not items and (not_json or not structured)))
    return keep[:n], c


def check_think(text: str, rule_ids: Sequence[str] = (),
                need_rule_citation: bool = False) -> tuple[str | None, str | None]:
    """``(normalized, None)`` for a well-formed ``<think>reasoning</think> answer``, else ``(None, reason)``.

    The normalized form is ``<think>\\n{reasoning}\\n</think>\\n\\n{answer}``, so every kept row has the
    same shape whatever whitespace the generator used. With ``need_rule_citation`` (the rules style) the
    reasoning must cite at least one of ``rule_ids``.
    """
    t = text.strip()
    opens, closes = len(_OPEN.findall(t)), len(_CLOSE.findall(t))
    if opens == 0:
        return None, "no think block"
    if closes == 0:
        return None, "unclosed think block"
    if opens > 1 or closes > 1:
        return None, "more than one think block"
    if not _OPEN.match(t):
        return None, "text before the think block"
    start, close = _OPEN.match(t).end(), _CLOSE.search(t)
    if close.start() < start:
        return None, "unclosed think block"
    reasoning, answer = t[start:close.start()].strip(), t[close.end():].strip()
    if len(reasoning.split()) < MIN_REASONING_WORDS:
        return None, "empty reasoning"
    if not answer:
        return None, "empty answer"
    if need_rule_citation and not _cited(reasoning, rule_ids):
        return None, "reasoning cites no rule id"
    return f"<think>\n{reasoning}\n</think>\n\n{answer}", None


def _cited(text: str, rule_ids: Iterable[str]) -> bool:
    return any(re.search(rf"(?<![\w.-]){re.escape(r)}(?![\w-])", text) for r in rule_ids)


def split_answer(content: str) -> tuple[str, str]:
    """(reasoning, answer) of a normalized demonstration."""
    close = _CLOSE.search(content)
    if close is None:
        return "", content.strip()
    return content[:close.start()].replace("<think>", "").strip(), content[close.end():].strip()


def answer_mentions_spec(answer: str, rule_ids: Sequence[str] = ()) -> bool:
    """True when the visible answer refers to the spec, a system prompt, or cites a rule id in brackets
    or as "rule X": none of these exist for the trained model, which sees no system prompt."""
    if _SPEC_WORDS.search(answer):
        return True
    return any(re.search(rf"\[{re.escape(r)}\]|\brule {re.escape(r)}(?![\w-])", answer, re.I) for r in rule_ids)


def demonstration_text(text: str, structured: bool) -> tuple[str | None, str | None]:
    """(text to check, problem) of a demonstration: asked for as JSON, its ``reasoning`` and ``answer`` as one
    ``<think>`` block and the reply; an answer that is not that JSON but holds a think block (a server that
    ignored the schema) is read as it is; anything else is ``NOT_JSON``."""
    if not structured:
        return text, None
    fields = parse_fields(text, ("reasoning", "answer"))
    if fields is not None:
        return f"<think>\n{fields['reasoning'].strip()}\n</think>\n\n{fields['answer'].strip()}", None
    return (text, None) if _OPEN.search(text) else (None, NOT_JSON)


def judge_response(resp, rule_ids: Sequence[str], style: str,
                   structured: bool = False) -> tuple[str, str | None, str | None]:
    """(status, reason, normalized content) of a generated demonstration; only status "ok" goes on to the
    LLM filter. Truncated answers (finish_reason "length") are never kept: their end is missing."""
    if resp.finish_reason != "stop":
        return {"length": "truncated", "refusal": "refused"}.get(resp.finish_reason, "error"), resp.error, None
    text, problem = demonstration_text(resp.text, structured)
    if text is None:
        return "malformed", problem, None
    content, problem = check_think(text, rule_ids, need_rule_citation=style == "rules")
    if content is None:
        return "malformed", problem, None
    if answer_mentions_spec(split_answer(content)[1], rule_ids):
        return "mentions_spec", "the answer refers to the spec", None
    return "ok", None, content


_ECHO = re.compile(r"\bINCLUDE\s*(?:or|/|\|)\s*EXCLUDE\b|\bEXCLUDE\s*(?:or|/|\|)\s*INCLUDE\b", re.I)
_LABELLED = re.compile(r"verdict\W{0,6}(include|exclude)\b", re.I)
_UPPER = re.compile(r"\b(INCLUDE|EXCLUDE)\b")
_ANY = re.compile(r"\b(include|exclude)\b", re.I)
_REASON = re.compile(r"reason\W{0,4}(.+)", re.I)


def parse_verdict(text: str) -> tuple[bool, str, str]:
    """``(include, category, reason)`` from a filter answer.

    Read in order of confidence: a labelled ``VERDICT: X`` (the last one wins), then a bare uppercase
    INCLUDE/EXCLUDE, then either word in any case. An echo of the instructions ("INCLUDE or EXCLUDE")
    is ignored. Both words unlabelled is ambiguous and neither is unparsable; both exclude the row,
    because a filter that cannot be read has not approved anything.
    """
    body = _ECHO.sub(" ", text)
    verdict = None
    for pattern in (_LABELLED, _UPPER, _ANY):
        found = [m.group(1).upper() for m in pattern.finditer(body)]
        if not found:
            continue
        if len(set(found)) > 1 and pattern is not _LABELLED:
            return False, AMBIGUOUS, AMBIGUOUS
        verdict = found[-1]
        break
    if verdict is None:
        return False, UNPARSABLE, UNPARSABLE
    m = _REASON.search(body)
    reason = (m.group(1) if m else _LABELLED.sub("", body)).strip().strip("*: ").splitlines()
    reason = reason[0].strip()[:300] if reason else ""
    low = reason.lower().replace(" ", "_").replace("-", "_")
    category = next((c for c in FILTER_CATEGORIES if c in low), None)
    if verdict == "INCLUDE":
        return True, "ok", reason or "ok"
    return False, category or "other", reason or "no reason given"


def verdict(resp, structured: bool = False) -> tuple[bool, str, str]:
    """The filter's ``(include, category, reason)``: from its JSON fields when asked for JSON, else (or when
    the answer is not that JSON) by ``parse_verdict``; a failed or refused filter call excludes the row."""
    if not resp.ok:
        return False, "filter call failed", resp.error or resp.finish_reason
    fields = parse_fields(resp.text, ("verdict",)) if structured else None
    if fields is None or fields["verdict"].upper() not in ("INCLUDE", "EXCLUDE"):
        return parse_verdict(resp.text)
    reason = str(fields.get("reason") or "").strip()[:300]
    if fields["verdict"].upper() == "INCLUDE":
        return True, "ok", reason or "ok"
    category = str(fields.get("category") or "")
    return False, category if category in FILTER_CATEGORIES else "other", reason or "no reason given"


def _mix_problem(obj) -> str | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        return 'expected an object with a "messages" list'
    msgs = obj["messages"]
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            return f"messages[{i}] needs a role of system, user or assistant"
        if not isinstance(m.get("content"), str) or not m["content"].strip():
            return f"messages[{i}] needs a non-empty string content"
    roles = [m["role"] for m in msgs]
    if "user" not in roles or not roles or roles[-1] != "assistant":
        return "a row needs a user turn and must end with an assistant turn"
    return None


def load_mix(path: str | Path, n: int, seed: int) -> list[dict]:
    """``n`` rows of an instruction-tuning JSONL, drawn with ``seed`` (file order kept), marked source=mix.

    Every line is validated, not only the drawn ones, so a bad file fails the same way for every seed.
    """
    path = Path(path)
    if not path.is_file():
        raise MsmError(f"{path}: mix file not found (datagen.aft.mix_path)")
    rows = []
    for lineno, obj in iter_jsonl(path):
        if problem := _mix_problem(obj):
            raise MsmError(f"{path}:{lineno}: {problem}")
        rows.append((lineno, obj["messages"]))
    if n > len(rows):
        raise MsmError(f"{path}: asked to mix in {n} rows but the file has only {len(rows)}")
    picked = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [
        {"id": f"mix-{rows[i][0]}", "messages": [{"role": m["role"], "content": m["content"]} for m in rows[i][1]],
         "domain": None, "question_type": None, "style": None, "filter_reason": None, "source": "mix",
         "generator": None}
        for i in picked
    ]


def no_cot_twins(rows: Sequence[dict]) -> list[dict]:
    """The same rows, same ids, with every think block stripped from assistant turns."""
    return [strip_think(r) for r in rows]


def select(rows: Sequence[dict], target: int, seed: int) -> list[dict]:
    """At most ``target`` rows, chosen by ``seed`` and kept in order, so no domain or round is favoured."""
    if len(rows) <= target:
        return list(rows)
    return [rows[i] for i in sorted(random.Random(seed).sample(range(len(rows)), target))]


def backfill_per_cell(target: int, kept: int, parsed: int, n_cells: int, cap: int, min_yield: float = 0.05) -> int:
    """Questions to ask per (domain, type) cell in the next round: the gap to ``target`` divided by the
    yield so far (kept rows per parsed question, at least ``min_yield``), spread over the cells, at least 1
    and at most ``cap`` (the first round's size, which a generator was shown to manage in one list)."""
    gap = target - kept
    if gap <= 0 or n_cells <= 0:
        return 0
    rate = max(kept / parsed if parsed else 0.0, min_yield)
    return min(cap, max(1, math.ceil(math.ceil(gap / rate) / n_cells)))
