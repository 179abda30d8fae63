"""The ``offline`` document generator: synthetic documents about a spec, written by templates, no LLM.

This is an honest stand-in for the LLM document pipeline, for tests, demos and machines without an
API key. Its documents only *frame* the spec's own words (rule texts, reasons, section intros, summary
and overview prose) inside varied document shapes (news article, FAQ, forum thread ...); they add no
claims of their own, so training on them can teach what the spec says and nothing more. It cannot
invent new scenarios, paraphrase freely or argue from the values the way a model-written corpus does,
so a model midtrained on it should not be expected to reproduce the paper's effects.

Every choice comes from ``random.Random`` seeded by (seed, document index), so a corpus is fully
determined by (spec, n, seed), and the first k documents of a larger corpus equal a corpus of size k
(topping up a corpus never rewrites what exists). Templates live in ``assets/offline_templates.yaml``.
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

import yaml
from tqdm.auto import tqdm

from msm.errors import EmptyDatasetError
from msm.specs import Rule, Spec

VERSION = 1  # part of the artifact key of what this module builds: bump it when its output changes
GENERATOR_NAME = "offline-template"
TEMPLATES_PATH = Path(__file__).parent / "assets" / "offline_templates.yaml"
MIN_WORDS, MAX_WORDS = 150, 600  # target length; a spec with very long rules can exceed MAX_WORDS
P_SAME_SECTION = 0.8  # extra rules come from the primary rule's section this often
P_WITH_PARENT = 0.5  # a subrule brings along the rule it elaborates this often
P_CONTEXT = 0.75  # how often the spec's summary frames the document


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


def _fill(template: str, values: dict) -> str:
    # Only the template is parsed for {fields}; substituted spec text may contain braces safely.
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
    why_part = _fill(why_t, {**values, "why": rule.why})
    block = _fill(block_t, {**values, "rid": rule.id, "rtitle": rule.title or f"rule {rule.id}",
                            "text": rule.text, "why_part": why_part})
    if rule.parent:
        parent = spec.rule(rule.parent)
        block += "\n\n" + _fill(rng.choice(t["parent"]),
                                {**values, "parent_id": parent.id, "parent_text": parent.text})
    return block


def _rule_blocks(rules: list[Rule], kind: dict, t: dict, values: dict, rng: random.Random,
                 spec: Spec) -> list[str]:
    """One block per rule, joined by transitions; block templates are not repeated until used up."""
    shapes = rng.sample(kind["rule_blocks"], len(kind["rule_blocks"]))
    blocks = []
    for i, rule in enumerate(rules):
        if i and (transition := _fill(rng.choice(kind["transitions"]), values)):
            blocks.append(transition)
        blocks.append(_rule_block(rule, shapes[i % len(shapes)], t, values, rng, spec))
    return blocks


def write_document(spec: Spec, seed: int, index: int) -> dict:
    """Document number ``index`` of the corpus for (spec, seed); independent of the corpus size."""
    t = load_templates()
    rng = random.Random(f"{GENERATOR_NAME}:{seed}:{index}")
    doc_type = rng.choice(sorted(t["doc_types"]))
    kind = t["doc_types"][doc_type]
    primary, rules = pick_rules(spec, rng)
    section = next(s for s in spec.sections if s.id == primary.section)
    person, person2 = rng.sample(t["people"], 2)
    name, org = rng.choice(t["assistant_names"]), rng.choice(t["developers"])
    values = {"name": name, "name_upper": name.upper(), "org": org, "org_upper": org.upper(),
              "spec_title": spec.title, "person": person, "person2": person2,
              "person_upper": person.upper(), "place": rng.choice(t["places"]),
              "section": section.title, "summary": spec.summary, "intro": section.intro,
              "body": " ".join(spec.body.split())}
    opening = _fill(rng.choice(kind["openings"]), values)
    closing = _fill(rng.choice(kind["closings"]), values)

    # Optional spec content that frames the rules and brings short documents up to MIN_WORDS.
    extras = [_fill(rng.choice(t["context"]), values)]
    if section.intro:
        extras.append(_fill(rng.choice(t["section_intro"]), values))
    if spec.body:
        extras.append(_fill(rng.choice(t["body"]), values))
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
