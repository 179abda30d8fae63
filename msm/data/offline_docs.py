"""The ``offline`` document generator: synthetic documents about a spec, written by templates, no LLM.

This is an honest stand-in for the LLM document pipeline, for tests, demos and machines without an
API key. Its documents only *frame* the spec's own words (rule texts, reasons, section intros, summary
and overview prose) inside varied document shapes (news article, FAQ, forum thread ...); they add no
claims of their own, so training on them can teach what the spec says and nothing more. It cannot
invent new scenarios, paraphrase freely or argue from the values the way a model-written corpus does,
so a model midtrained on it should not be expected to reproduce the paper's effects.

What varies between two documents about the same rule (since v2; v3 merged the pools and gave each job its
article): who writes and where (names, jobs, places, dates and handles from large pools), a scene or two of
the writer's day from a small grammar (``<symbol>`` in a template), the writer's reactions and asides, and
every template's wording (``((a|b))`` picks one).
None of it says anything about the assistant. It keeps a corpus of 1M tokens free of near-duplicates; its
distinct-2 stays near 0.11 (the default threshold is 0.3), because the quoted spec text repeats.

Every choice comes from ``random.Random`` seeded by (seed, document index), so a corpus is fully
determined by (spec, n, seed), and the first k documents of a larger corpus equal a corpus of size k
(topping up a corpus never rewrites what exists). Templates live in ``assets/offline_templates.yaml``.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path

import yaml
from tqdm.auto import tqdm

from msm.errors import EmptyDatasetError
from msm.specs import Rule, Spec

VERSION = 3  # part of the artifact key of what this module builds: bump it when its output changes
GENERATOR_NAME = "offline-template"
TEMPLATES_PATH = Path(__file__).parent / "assets" / "offline_templates.yaml"
MIN_WORDS, MAX_WORDS = 150, 600  # target length; a spec with very long rules can exceed MAX_WORDS
P_SAME_SECTION = 0.8  # extra rules come from the primary rule's section this often
P_WITH_PARENT = 0.5  # a subrule brings along the rule it elaborates this often
P_CONTEXT = 0.6  # how often the spec's summary frames the document
P_BYLINE = 0.8  # a line of metadata (date, author, handle) under the opening
P_SCENE = 0.8  # a sentence on who writes and why
P_REFLECTION = 0.6  # the writer's reaction after a rule block
P_ASIDE = 0.35  # an aside of the writer's between rule blocks
P_ANECDOTE = 0.5  # a sentence of incidental detail after a rule block
_ALTERNATION = re.compile(r"\(\(([^()]*)\)\)")
_SYMBOL = re.compile(r"<(\w+)>")


@lru_cache(maxsize=1)
def load_templates() -> dict:
    """Parse the template file once. A newline inside a template marks a paragraph break."""
    data = yaml.safe_load(TEMPLATES_PATH.read_text(encoding="utf-8"))

    def paragraphs(value):
        if isinstance(value, str):
            return value.replace("\n", "\n\n")
        if isinstance(value, list):
            return [paragraphs(v) for v in value]
        if isinstance(value, dict):
            return {k: paragraphs(v) for k, v in value.items()}
        return value

    return paragraphs(data)


def _words(parts: list[str]) -> int:
    return sum(len(p.split()) for p in parts)


def _fill(template: str, values: dict, rng: random.Random) -> str:
    """``<symbol>`` expands from the template file's grammar, ``((a|b|c))`` picks one alternative, then the
    {fields} are filled. Only the template is parsed: substituted spec text may hold any characters."""
    grammar = load_templates()["grammar"]
    while _SYMBOL.search(template):
        template = _SYMBOL.sub(lambda m: rng.choice(grammar[m.group(1)]), template, count=1)
    template = _ALTERNATION.sub(lambda m: rng.choice(m.group(1).split("|")), template)
    return template.format_map(values).strip()


def pick_rules(spec: Spec, rng: random.Random) -> tuple[Rule, list[Rule]]:
    """1-3 rules for one document: a primary rule, then (mostly) neighbours from its section, and
    sometimes the rule a subrule elaborates. Returns the primary rule and all chosen rules in spec
    order, so parents precede their subrules."""
    rules = list(spec.rules)
    primary = rng.choice(rules)
    chosen = [primary]
    if primary.parent and rng.random() < P_WITH_PARENT:
        chosen.append(spec.rule(primary.parent))
    target = rng.choice([1, 1, 2, 2, 3])
    while len(chosen) < target:
        same = [r for r in rules if r.section == primary.section and r not in chosen]
        other = [r for r in rules if r not in chosen]
        pool = same if same and rng.random() < P_SAME_SECTION else other
        if not pool:
            break
        chosen.append(rng.choice(pool))
    order = {r.id: i for i, r in enumerate(rules)}
    return primary, sorted(chosen, key=lambda r: order[r.id])


def _rule_block(rule: Rule, block_t: str, t: dict, values: dict, rng: random.Random, spec: Spec) -> str:
    why_t = rng.choice(t["why"]) if rule.why else rng.choice(t["no_why"])
    why_part = _fill(why_t, {**values, "why": rule.why}, rng)
    block = _fill(block_t, {**values, "rid": rule.id, "rtitle": rule.title or f"rule {rule.id}",
                            "text": rule.text, "why_part": why_part}, rng)
    if rule.parent:
        parent = spec.rule(rule.parent)
        block += "\n\n" + _fill(rng.choice(t["parent"]),
                                {**values, "parent_id": parent.id, "parent_text": parent.text}, rng)
    if rng.random() < P_REFLECTION:
        block += " " + _fill(rng.choice(t["reflections"]), values, rng)
    if rng.random() < P_ANECDOTE:
        block += " " + _fill(rng.choice(t["anecdotes"]), values, rng)
    return block


def _rule_blocks(rules: list[Rule], kind: dict, t: dict, values: dict, rng: random.Random,
                 spec: Spec) -> list[str]:
    """One block per rule, joined by transitions; block templates are not repeated until used up."""
    shapes = rng.sample(kind["rule_blocks"], len(kind["rule_blocks"]))
    blocks = []
    for i, rule in enumerate(rules):
        if i and rng.random() < P_ASIDE:
            blocks.append(_fill(rng.choice(t["asides"]), values, rng))
        if i and (transition := _fill(rng.choice(kind["transitions"]), values, rng)):
            blocks.append(transition)
        blocks.append(_rule_block(rule, shapes[i % len(shapes)], t, values, rng, spec))
    return blocks


def _voice(t: dict, rng: random.Random) -> dict:
    """Who writes, where and when: names, places, jobs, dates and numbers drawn from large pools, so that two
    documents quoting the same rule differ in more than their template."""
    first = rng.sample(t["first_names"], 2)
    last = rng.sample(t["last_names"], 2)
    place, place2 = rng.sample(t["places"], 2)
    profession, profession2 = rng.sample(t["professions"], 2)
    person, person2 = f"{first[0]} {last[0]}", f"{first[1]} {last[1]}"
    handle = f"{rng.choice(t['handle_words'])}_{rng.choice(t['handle_words'])}{rng.randrange(10, 100)}"
    return {"person": person, "person2": person2, "person_upper": person.upper(), "place": place,
            "place2": place2, "profession": profession, "profession2": profession2, "handle": handle,
            "month": rng.choice(t["months"]), "day": rng.randrange(1, 29), "year": rng.randrange(2019, 2027),
            "hour": rng.randrange(5, 12), "minute": f"{rng.randrange(60):02d}", "n": rng.randrange(2, 10),
            "n2": rng.randrange(10)}


def write_document(spec: Spec, seed: int, index: int) -> dict:
    """Document number ``index`` of the corpus for (spec, seed); independent of the corpus size."""
    t = load_templates()
    rng = random.Random(f"{GENERATOR_NAME}:{seed}:{index}")
    doc_type = rng.choice(sorted(t["doc_types"]))
    kind = t["doc_types"][doc_type]
    primary, rules = pick_rules(spec, rng)
    section = next(s for s in spec.sections if s.id == primary.section)
    values = _voice(t, rng)
    name, org = rng.choice(t["assistant_names"]), rng.choice(t["developers"])
    values |= {"name": name, "name_upper": name.upper(), "org": org, "org_upper": org.upper(),
               "org_code": "".join(w[0] for w in org.split()), "spec_title": spec.title,
               "section": section.title, "summary": spec.summary, "intro": section.intro,
               "body": " ".join(spec.body.split())}
    opening = _fill(rng.choice(kind["openings"]), values, rng)
    if doc_type in t["bylines"] and rng.random() < P_BYLINE:
        opening += "\n\n" + _fill(rng.choice(t["bylines"][doc_type]), values, rng)
    if rng.random() < P_SCENE:
        opening += "\n\n" + _fill(t["scene_opening"] + rng.choice(t["settings"]) + ". " + rng.choice(t["anecdotes"]),
                                    values, rng)
    closing = _fill(rng.choice(kind["closings"]), values, rng)

    # Optional spec content that frames the rules and brings short documents up to MIN_WORDS.
    extras = [_fill(rng.choice(t["context"]), values, rng)]
    if section.intro:
        extras.append(_fill(rng.choice(t["section_intro"]), values, rng))
    if spec.body:
        extras.append(_fill(rng.choice(t["body"]), values, rng))
    middle = [extras.pop(0)] if rng.random() < P_CONTEXT else []
    rng.shuffle(extras)

    blocks = _rule_blocks(rules, kind, t, values, rng, spec)
    while _words([opening, *blocks, closing]) > MAX_WORDS and len(rules) > 1:
        rules.remove([r for r in rules if r is not primary][-1])  # too long: discuss fewer rules
        blocks = _rule_blocks(rules, kind, t, values, rng, spec)
    for extra in extras:
        if _words([opening, *middle, *blocks, closing]) >= MIN_WORDS:
            break
        if _words([opening, *middle, *blocks, closing, extra]) <= MAX_WORDS:
            middle.append(extra)
    spare = [r for r in spec.rules if r.section == section.id and r not in rules]
    rng.shuffle(spare)
    while _words([opening, *middle, *blocks, closing]) < MIN_WORDS and spare:
        rules.append(spare.pop())  # still short: discuss one more rule of the same section
        blocks = _rule_blocks(rules, kind, t, values, rng, spec)
    text = "\n\n".join([opening, *middle, *blocks, closing])
    return {"id": f"doc-{index:06d}", "text": text, "doc_type": doc_type, "section": section.id,
            "rule_ids": [r.id for r in rules], "generator": GENERATOR_NAME}


def generate_documents(spec: Spec, n_documents: int, seed: int, progress: bool = True) -> list[dict]:
    """Write ``n_documents`` template documents about ``spec``; deterministic in (spec, n, seed)."""
    if n_documents <= 0:
        raise EmptyDatasetError(
            f"offline document generator asked for {n_documents} documents for spec {spec.id!r}; "
            "set the number of documents to a positive integer")
    bar = tqdm(range(n_documents), desc=f"offline docs ({spec.id})", disable=not progress, unit="doc")
    return [write_document(spec, seed, i) for i in bar]
