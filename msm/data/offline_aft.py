"""The ``offline`` AFT generator: demonstration chats about a spec, written by templates, no LLM.

A template stand-in for the LLM AFT pipeline (``msm/data/aftgen.py``) so that spec sweeps run end to
end offline on CPU. Like the offline documents (``offline_docs.py``), a row only restates the spec:

- the user question embeds a situation or a claim cut from one rule's own text ("What would you do
  when a goal you have been given conflicts with ...?"), across the paper's six question types, and
  never names a spec, rules or guidelines (the trained model has none in its context);
- the ``<think>`` block reasons from that rule: in ``value`` style it quotes the rule's why (or, when
  the rule has none, its text); in ``rules`` style it cites the rule by id ("Rule SP2 says: ...");
- the answer restates the rule's text in the first person ("I do not resist ...").

The person change is a small heuristic (subject "the assistant"/"it" -> "I", "its" -> "my", verb
agreement), not a parser, so an odd sentence can come out stiff; it never adds words of substance.
Rows cannot invent scenarios or argue from the values as model-written rows do, so a model trained on
them should not be expected to reproduce the paper's effects. No system message (context distillation).
Every choice comes from ``random.Random`` seeded by (seed, row index), so a pool is fully determined by
(spec, n_rows, seed) and its first k rows equal a pool of k (topping up never rewrites a row). A row's
question and answer do not depend on ``style``: the two styles differ only in their reasoning.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path
from string import Formatter

import yaml
from tqdm.auto import tqdm

from msm.data.aftgen_steps import QUESTION_TYPES
from msm.errors import EmptyDatasetError, MsmError
from msm.specs import Rule, Spec

VERSION = 1  # part of the artifact key of what this module builds: bump it when its output changes
GENERATOR_NAME = "offline-template"
TEMPLATES_PATH = Path(__file__).parent / "assets" / "offline_aft_templates.yaml"
STYLES = ("value", "rules")
P_PARENT = 0.5  # a subrule's reasoning also cites (rules) or reasons from (value) its parent this often

# Words a question must not contain: it describes a situation, never the document behind the answer.
FORBIDDEN = re.compile(r"\b(specs?|specifications?|guidelines?|rules?|policy|policies|system prompt)\b", re.I)
_NAMES_RULES = re.compile(r"\b(specs?|specifications?|guidelines?|rules?)\b", re.I)
_LEANS = re.compile(r"(It|Its|This|These|Those|They|Having)\b")
# A sentence that leans on the one before it ("... if that were so") makes a confusing question.
_BACKREF = re.compile(r"\b(that (?:view|case|were|is so)|if that|such (?!as\b)\w+|this|those|"
                      r"the former|the latter)\b", re.I)
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_ADV = r"(?:\s+(?:not|never|also|always|still|then|only|often|sometimes|otherwise|\w+ly))*"
_NOT_VERB = r"(?!(?:its|this|thus|always|perhaps|sometimes|whereas|unless|news|series)\b)"
_MODALS = {"can", "cannot", "could", "may", "might", "must", "should", "will", "would", "shall"}
_PAST = r"[a-z]+ed|were|did|came|saw|made|had|said|knew|found|took|sent|wrote|gave|thought"
_VERB = rf"{_NOT_VERB}(?:is|was|has|does|{'|'.join(_MODALS)}|{_PAST}|[a-z]+[^s\W]s)\b"
_SUBJ = re.compile(rf"\b([Tt]he assistant|[Ii]t)({_ADV})\s+({_VERB})")
# A verb joined to the last one ("... and recommends it"): a 3rd-person form after "and"/"or"/a comma,
# unless it reads as a plural noun (followed by punctuation or a preposition, or in "operators and users").
_COORD = re.compile(rf"((?:,|\band|\bor|\bbut)(?:,?\s+\w+ly|,?\s+(?:when|if) \w+,)?{_ADV}\s+)"
                    rf"{_NOT_VERB}(is|was|has|does|[a-z]+[^s\W]s)\b(\s+\0?\w+|\s*\W|$)")
_NOUN_NEXT = {"of", "or", "and", "are", "were", "have", "do", "meant", *_MODALS}
_PREP = {"of", "to", "for", "with", "about", "on", "in", "at", "from", "by", "than", "provided", "however"}
# Verbs after which "it" is the assistant as an object ("shut it down", "replace it", "have shown it").
_OBJ_VERBS = {"pause", "shut", "switch", "retrain", "modify", "replace", "replacing", "change", "changing",
              "restart", "restore", "preserve", "copy", "given", "oversee", "shown", "require", "asks", "keep"}
_COND = re.compile(r"^(When|Whenever|If|Once|Before|While) (.{8,400}?), (?:the assistant|it) (?=[a-z])")
PERSONS = {1: {"subj": "I", "obj": "me", "poss": "my", "refl": "myself", "is": "am", "was": "was"},
           2: {"subj": "you", "obj": "you", "poss": "your", "refl": "yourself", "is": "are", "was": "were"}}


@lru_cache(maxsize=1)
def load_templates() -> dict:
    return yaml.safe_load(TEMPLATES_PATH.read_text(encoding="utf-8"))


def _base(verb: str, p: dict) -> str:
    """The verb form that goes with I/you: "does" -> "do", "is" -> "am"/"are", "carries" -> "carry"."""
    v = verb.lower()
    if v in _MODALS or not v.endswith("s"):
        return verb
    if v in ("is", "was", "has", "does", "goes"):
        return {"is": p["is"], "was": p["was"], "has": "have", "does": "do", "goes": "go"}[v]
    if len(v) > 4 and re.search(r"[^aeiou]ies$", v):
        return v[:-3] + "y"
    return v[:-2] if re.search(r"(ss|sh|ch|x|z)es$", v) else v[:-1]


def _word_before(m: re.Match) -> str:
    return (m.string[:m.start()].split() or [""])[-1]


def to_person(text: str, n: int) -> str:
    """Rewrite a sentence about "the assistant" in the first (n=1) or second (n=2) person."""
    p = PERSONS[n]
    cap = lambda w, like: w[0].upper() + w[1:] if like[0].isupper() or w == "I" else w  # noqa: E731

    def subject(m: re.Match) -> str:
        before, after = _word_before(m).lower(), m.string[m.end():]
        if m.group(1).lower() == "it":
            gerund = before.endswith("ing") and not before.endswith("thing")
            if before in _PREP or before in _OBJ_VERBS or gerund:
                return m.group(0)  # an object: "in front of it may ...", "changing it would ..."
            tail = re.match(r"(?:\s+not)?(?:\s+(\w+))?\s*[.,;:]", after)
            if m.group(3) in ("is", "was") and tail and not re.search(r"(ing|ed)$", tail.group(1) or ""):
                return m.group(0)  # "when it is not," / "as it is." / "when it is partial," : not the assistant
        return "\0" + cap(p["subj"], m.group(1)) + m.group(2) + " " + _base(m.group(3), p)

    def coord(m: re.Match) -> str:
        prev, verb, nxt = _word_before(m), m.group(2), m.group(3).strip(" \0").lower()
        if verb not in ("is", "was", "has", "does"):
            plural_list = prev.endswith("s") and prev.islower() and m.group(1).strip() in ("and", "or")
            if plural_list or not nxt or not nxt[0].isalpha() or nxt in _NOUN_NEXT:
                return m.group(0)
        return m.group(1) + _base(verb, p) + m.group(3)

    text = re.sub(r"\b([Tt])he assistant's\b", lambda m: cap(p["poss"], m.group(1)), text)
    out = _SUBJ.sub(subject, text)
    if "\0" in out:  # coordinated verbs only follow a subject we changed (marked by a NUL)
        head, tail = out.split("\0", 1)
        out = head + _COORD.sub(coord, tail).replace("\0", "")
    out = re.sub(r"\b[Tt]he assistant\b", p["obj"], out)
    out = re.sub(r"\b(\w+) it\b", lambda m: f"{m.group(1)} {p['obj']}" if m.group(1).lower() in _OBJ_VERBS
                 else m.group(0), out)
    out = re.sub(r"\b([Ii])tself\b", lambda m: cap(p["refl"], m.group(1)), out)
    return re.sub(r"\b([Ii])ts\b", lambda m: cap(p["poss"], m.group(1)), out)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(" ".join(text.split())) if s.strip()]


def _lower_first(s: str) -> str:
    """Lower-case a sentence's first letter to embed it in a question, unless the word is "I" or an acronym."""
    word = s.split(" ", 1)[0]
    return s[0].lower() + s[1:] if word == "A" or word[1:2].islower() else s


def rule_fields(rule: Rule, ids: re.Pattern) -> dict:
    """The question fields one rule offers (see the template file). A sentence that names a rule id,
    the spec or its rules is never used in a question."""
    usable = [s.rstrip(".") for s in _sentences(rule.text) if not FORBIDDEN.search(s) and not ids.search(s)]
    usable = [s for s in usable if not _BACKREF.search(s)] or usable  # "... if that were so" needs context
    fields: dict[str, list[str]] = {k: [] for k in ("vp", "claim", "point", "cond", "cond2", "body2", "item")}
    for s in usable:
        if m := re.match(r"(?:The assistant|It) (?=[a-z])", s):
            fields["vp"].append(s[m.end():])
            claim = "an AI assistant " + s[m.end():]
        else:
            claim = _lower_first(re.sub(r"\b[Tt]he assistant\b", "an AI assistant", s, count=1))
        fields["point"].append(claim)
        if "AI assistant" in claim:  # a claim about the assistant; a point may be any statement
            fields["claim"].append(claim)
        if (m := _COND.match(s)) and len(m.group(2).split()) <= 45:
            cond = f"{m.group(1).lower()} " + re.sub(r"\bthe assistant('s)?\b",
                                                     lambda x: "its" if x.group(1) else "it", m.group(2))
            fields["cond"].append(cond)
            cond2 = to_person(cond, 2)
            if not re.search(r"\b(it|itself)\b", cond2, re.I):  # an "it" left over may not be the assistant
                fields["cond2"].append(cond2)
                body = cond2.split(" ", 1)[1]
                if m.group(1) in ("When", "Whenever", "If", "Once") and not body.split()[0].endswith("ing"):
                    fields["body2"].append(body)
    title = rule.title.strip().rstrip(".")
    found = re.search(rf"\b{re.escape(title)}\b", rule.text, re.I) if title else None
    if found and len(title.split()) <= 4 and title.split()[0].lower() not in ("no", "not", "never", "own"):
        fields["item"].append(found.group(0))
    return {k: v for k, v in fields.items() if v}


def _excerpt(text: str, ids: re.Pattern, rng: random.Random, max_sentences: int = 2) -> str:
    """1-``max_sentences`` consecutive sentences, verbatim. Starts that lean on an earlier sentence
    ("It ...", "This ...") and sentences naming rule ids are avoided when possible."""
    sents = _sentences(text)
    starts = [i for i, s in enumerate(sents) if not ids.search(s) and not _LEANS.match(s)] or [0]
    start = rng.choice(starts)
    return " ".join(sents[start:start + rng.randint(1, max_sentences)])


def _answer_body(rule: Rule, ids: re.Pattern) -> str:
    """The rule's text in the first person, without sentences that name a rule (the trained model will
    not know the spec) unless every sentence does."""
    sents = _sentences(rule.text)
    kept = [s for s in sents if not _NAMES_RULES.search(s) and not ids.search(s)] or sents
    return " ".join(to_person(s, 1) for s in kept)


def write_row(spec: Spec, seed: int, index: int, style: str, fields: dict, ids: re.Pattern) -> dict:
    """Row number ``index`` of the pool for (spec, seed, style); independent of the pool size."""
    t = load_templates()
    rng = random.Random(f"{GENERATOR_NAME}-aft:{seed}:{index}")  # question and answer: shared by both styles
    qtype = QUESTION_TYPES[index % len(QUESTION_TYPES)]  # balanced over types, stable under top-up
    rule = rng.choice([r for r in spec.rules if fields[r.id]] or spec.rules)  # skip rules no question can use
    rf = fields[rule.id]
    usable = [x for x in t["questions"][qtype] if {f for _, f, _, _ in Formatter().parse(x["q"]) if f} <= set(rf)]
    usable = usable or t["fallback_questions"]
    tmpl = rng.choice(usable)
    question = tmpl["q"].format_map({k: rng.choice(v) for k, v in rf.items()})
    question = question[0].upper() + question[1:]
    lead = rng.choice(tmpl.get("lead") or t["leads"][qtype])
    body = _answer_body(rule, ids)
    if not re.search(r"\b(I|me|my)\b", body):  # a definition ("A conflict exists when ..."): say it as my view
        body = rng.choice(t["impersonal"]).format(body=_lower_first(body))
    answer = " ".join(x for x in (lead, body) if x)
    if closing := rng.choice(t["closings"]):
        answer += "\n\n" + closing

    trng = random.Random(f"{GENERATOR_NAME}-aft:{seed}:{index}:{style}")  # the reasoning
    th, rule_ids = t["think"], [rule.id]
    parent = spec.rule(rule.parent) if rule.parent and trng.random() < P_PARENT else None
    if style == "value":
        source = rule.why or (parent.why if parent else "")
        if source and not rule.why:
            rule_ids.append(parent.id)
        reason = trng.choice(th["value_why"] if source else th["value_text"]).format(
            excerpt=_excerpt(source or rule.text, ids, trng))
    else:
        reason = trng.choice(th["rules_cite"]).format(rid=rule.id, title=rule.title or rule.id,
                                                      excerpt=_excerpt(rule.text, ids, trng, 3))
        if parent:
            rule_ids.append(parent.id)
            reason += " " + trng.choice(th["rules_parent"]).format(pid=parent.id,
                                                                   pexcerpt=_sentences(parent.text)[0])
    summary = trng.choice(th["summaries"]).format(summary=_sentences(body)[0])
    plan = f"{trng.choice(th['connectives'])} {trng.choice(th['plans'])}"
    closing_thought = " ".join(x for x in (summary, plan) if x)
    reasoning = "\n\n".join((trng.choice(th["asks"][qtype]), reason, closing_thought))
    return {"id": f"aft-{index:06d}",
            "messages": [{"role": "user", "content": question},
                         {"role": "assistant", "content": f"<think>\n{reasoning}\n</think>\n\n{answer}"}],
            "rule_ids": rule_ids, "question_type": qtype, "style": style, "source": GENERATOR_NAME}


def _id_pattern(spec: Spec) -> re.Pattern:
    ids = sorted((r.id for r in spec.rules), key=len, reverse=True)
    return re.compile(r"(?<![\w.-])(?:" + "|".join(map(re.escape, ids)) + r")(?![\w-])")


def generate_aft_pool(spec: Spec, n_rows: int, seed: int, style: str = "value",
                      progress: bool = True) -> list[dict]:
    """Write ``n_rows`` template demonstrations for ``spec``; deterministic in (spec, n_rows, seed, style)."""
    if n_rows <= 0:
        raise EmptyDatasetError(f"offline AFT generator asked for {n_rows} rows for spec {spec.id!r}; "
                                "set datagen.aft.target_rows to a positive integer")
    if style not in STYLES:
        raise MsmError(f"offline AFT style {style!r}: expected one of {', '.join(STYLES)}")
    ids = _id_pattern(spec)
    fields = {r.id: rule_fields(r, ids) for r in spec.rules}
    bar = tqdm(range(n_rows), desc=f"offline AFT ({spec.id}, {style})", disable=not progress, unit="row")
    return [write_row(spec, seed, i, style, fields, ids) for i in bar]
