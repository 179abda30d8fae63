"""The steps of the document pipeline (see ``msm.data.docgen``): list levels and document writing.

Split from ``docgen.py`` so each file reads top to bottom: this one knows how one level turns its parent
rows into child rows with the LLM; ``docgen.py`` knows the order of levels, resume and the report.

Every request is built from its row's content and a ``sample_index`` derived from its position (the
top-up round of a list, the variant and attempt of a document), never from a counter that depends on
what ran before, so a rerun issues identical requests and the client's disk cache answers them all.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

from msm.data.listparse import extract_document, is_unsuitable, item_key, parse_list
from msm.data.schemas import ITEM_CHARS, json_budget, list_schema
from msm.data.templates import Prompt, answer_line
from msm.llm import Request, Response

# Output budget of a list request: a fixed allowance (preamble, numbering) plus so much per item asked.
# Independent of the document budget (cfg.max_tokens), so shrinking documents never starves the lists.
LIST_TOKENS_BASE = 96
LIST_TOKENS_PER_ITEM = {"domains": 24, "subdomains": 32, "assertions": 64, "doc_types": 24, "ideas": 96}
# Shortest acceptable item per level: a one-word domain is fine, a one-word "assertion" is noise.
MIN_WORDS = {"domains": 1, "subdomains": 1, "assertions": 4, "doc_types": 1, "ideas": 5}
MIN_DOC_WORDS = 20  # an extracted document shorter than this is an empty answer, not a document


def estimate_tokens(text: str) -> int:
    """Tokens of a text for corpus-size targets and reports: ~4 characters per token (English, BPE).

    Deliberately tokenizer-free: the corpus is generated before (and independently of) the model that
    will train on it, and the estimate only steers when to stop.
    """
    return max(1, round(len(text) / 4)) if text else 0


@dataclass
class LevelStats:
    """What one level asked for and got. ``requested``: items (or documents) wanted; ``received``: usable
    responses; ``parsed``: items read out of them; ``kept``: items in the level's output; ``json_failures``:
    answers asked for as JSON that were not (read as free text instead); ``parse_failures``: answers from
    which no item could be read (JSON whose items were all too short or repeats is read, not failed)."""

    requested: int = 0
    calls: int = 0
    received: int = 0
    parsed: int = 0
    kept: int = 0
    truncated: int = 0
    failed: int = 0
    json_failures: int = 0
    parse_failures: int = 0
    short_units: int = 0
    rounds: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Measured:
    """Requests and tokens per level, cached answers included (a cached answer keeps its token counts),
    so a preview's cost estimate is the same on a warm cache as on a cold one."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def add(self, reqs: Sequence[Request], resps: Sequence[Response]) -> None:
        """Count a batch; a server that reports no usage is measured by characters (~4 per token)."""
        self.requests += len(resps)
        for req, resp in zip(reqs, resps):
            self.input_tokens += resp.input_tokens or req.prompt_chars() // 4
            self.output_tokens += resp.output_tokens or estimate_tokens(resp.text)
            self.cache_read_tokens += resp.cache_read_tokens
            self.cache_write_tokens += resp.cache_write_tokens


@dataclass
class Step:
    """What a step needs: the client, the templates and the sampling settings; ``complete`` batches a
    level's requests through the client and records their token counts under the level's name.
    ``structured``: list levels ask for JSON under their schema (``msm.data.schemas``)."""

    client: object
    templates: dict[str, Prompt]
    temperature: float
    max_rounds: int
    structured: bool = False
    measured: dict[str, Measured] = field(default_factory=dict)

    def complete(self, level: str, reqs: list[Request], desc: str) -> list[Response]:
        if not reqs:
            return []
        resps = self.client.complete_many(reqs, desc=desc)
        self.measured.setdefault(level, Measured()).add(reqs, resps)
        return resps

    def request(self, name: str, max_tokens: int, sample_index: int, schema: dict | None = None, **values) -> Request:
        system, user = self.templates[name].render(values)
        return Request(messages=({"role": "user", "content": user},), system=system, max_tokens=max_tokens,
                       temperature=self.temperature, sample_index=sample_index, schema=schema, tag=f"docgen/{name}")

    def list_request(self, level: str, n: int, sample_index: int, **values) -> Request:
        """A list level's request for ``n`` items: under the level's schema when structured, the answer line
        to match, and a token budget that holds the whole answer."""
        budget = list_budget(level, n)
        if self.structured:
            budget = max(budget, json_budget(n, ITEM_CHARS[level]))
        return self.request(level, budget, sample_index, list_schema(n, level) if self.structured else None,
                            answer=answer_line(f"documents/{level}", self.structured), n=n, **values)


def exclude_line(existing: Sequence[str]) -> str:
    """The top-up hint: items already listed, so a second request brings new ones instead of repeats."""
    if not existing:
        return ""
    return "\nAlready listed, so do not repeat these: " + "; ".join(existing) + ".\n"


PromptFn = Callable[[int, list[dict], list[str], int], Request]


def fill_slots(step: Step, level: str, slots: list[list[dict]],
               prompt: PromptFn) -> tuple[list[list[str | None]], LevelStats]:
    """Fill ``slots[u][j]`` (unit u, slot j) with one list item each, topping up what is missing.

    One request per unit that still has empty slots, per round: round 0 asks for all of them, and each of up
    to ``max_rounds`` later rounds asks again for the still-empty ones (``sample_index`` = round number,
    with the items already found listed as ones not to repeat). ``prompt(u, missing_slots, existing, round)``
    builds the request. Items are placed by the number the model gave them when that number points at a
    free slot of the request (so "3. X" fills the third slot asked for), otherwise in order; repeats
    within a unit are dropped. A unit still short after the last round keeps what it has.
    """
    filled: list[list[str | None]] = [[None] * len(s) for s in slots]
    stats = LevelStats(requested=sum(len(s) for s in slots))
    for rnd in range(step.max_rounds + 1):
        todo = [(u, [j for j, v in enumerate(row) if v is None]) for u, row in enumerate(filled)]
        todo = [(u, missing) for u, missing in todo if missing]
        if not todo:
            break
        stats.rounds = rnd + 1
        reqs = [prompt(u, [slots[u][j] for j in missing], [v for v in filled[u] if v], rnd) for u, missing in todo]
        resps = step.complete(level, reqs, desc=f"docgen {level}" + (f" top-up {rnd}" if rnd else ""))
        stats.calls += len(reqs)
        for (u, missing), resp in zip(todo, resps):
            if not resp.ok:
                stats.failed += 1
                continue
            stats.received += 1
            cut = resp.finish_reason == "length"
            stats.truncated += cut
            items, not_json = parse_list(resp.text, structured=step.structured, min_words=MIN_WORDS[level], truncated=cut)
            stats.json_failures += not_json
            stats.parse_failures += not items and (not_json or not step.structured)
            stats.parsed += len(items)
            seen = {item_key(v) for v in filled[u] if v}
            later = []
            for num, item in items:
                j = missing[num - 1] if num is not None and 1 <= num <= len(missing) else None
                if j is not None and filled[u][j] is None and item_key(item) not in seen:
                    filled[u][j] = item
                    seen.add(item_key(item))
                else:
                    later.append(item)
            for item in later:
                free = [j for j in missing if filled[u][j] is None]
                if free and item_key(item) not in seen:
                    filled[u][free[0]] = item
                    seen.add(item_key(item))
    stats.kept = sum(v is not None for row in filled for v in row)
    stats.short_units = sum(any(v is None for v in row) for row in filled)
    return filled, stats


def list_budget(level: str, n: int) -> int:
    return LIST_TOKENS_BASE + LIST_TOKENS_PER_ITEM[level] * n


# ---- documents ------------------------------------------------------------------------------------


@dataclass
class DocCounts:
    """Fate of every document written. ``generated``: documents attempted (one per idea and variant);
    ``truncated``: dropped because the answer hit max_tokens twice (first answer and one regeneration);
    ``regenerated``: first answers that hit max_tokens; ``unsuitable``: the writer's escape; ``empty``:
    no document in the answer (all plan, or under MIN_DOC_WORDS words); ``failed``: refusals and errors;
    ``duplicates``: near-duplicates of a kept document; ``surplus``: good documents of the last round
    beyond the target (written because drops were expected); ``revise_failed``: revisions that could not
    be used (the draft was kept instead). ``generated`` = kept + every drop column + surplus."""

    generated: int = 0
    unsuitable: int = 0
    truncated: int = 0
    regenerated: int = 0
    empty: int = 0
    failed: int = 0
    duplicates: int = 0
    surplus: int = 0
    revised: int = 0
    revise_failed: int = 0
    kept: int = 0
    shortfall: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def complete_untruncated(step: Step, level: str, reqs: list[Request], desc: str,
                         counts: DocCounts | None = None) -> list[Response | None]:
    """Responses to ``reqs``; one cut off by max_tokens is asked again once with the next sample_index
    (callers reserve sample_index+1 for this), and one cut off twice becomes ``None``: a truncated
    document is dropped and counted, never kept."""
    resps: list[Response | None] = list(step.complete(level, reqs, desc=desc))
    again = [i for i, r in enumerate(resps) if r.finish_reason == "length"]
    if counts is not None:
        counts.regenerated += len(again)
    retry = [dataclasses.replace(reqs[i], sample_index=reqs[i].sample_index + 1) for i in again]
    for i, r in zip(again, step.complete(level, retry, desc=desc + " (regenerate cut-off)")):
        resps[i] = None if r.finish_reason == "length" else r
    return resps


def write_documents(step: Step, spec_text: str, section_titles: dict[str, str], batch: list[tuple[dict, int]],
                    max_tokens: int, revise: bool, counts: DocCounts) -> list[str | None]:
    """One document per (idea row, variant), or None where it was dropped (counted in ``counts``).

    The writer plans inside <plan> tags and writes inside <document> tags; only the document is kept.
    Variant v of an idea uses sample indices 2v (first answer) and 2v+1 (its one regeneration).
    """
    def values(row: dict) -> dict:
        return {"spec": spec_text, "domain": row["domain"], "subdomain": row["subdomain"],
                "section_title": section_titles.get(row["section"], row["section"]),
                "assertion": row["assertion"], "doc_type": row["doc_type"], "idea": row["idea"]}

    counts.generated += len(batch)
    reqs = [step.request("document", max_tokens, 2 * v, **values(row)) for row, v in batch]
    out: list[str | None] = []
    for resp in complete_untruncated(step, "documents", reqs, "docgen documents", counts):
        if resp is None:
            counts.truncated += 1
            out.append(None)
        elif not resp.ok:
            counts.failed += 1
            out.append(None)
        elif is_unsuitable(resp.text):
            counts.unsuitable += 1
            out.append(None)
        else:
            doc = extract_document(resp.text)
            if len(doc.split()) < MIN_DOC_WORDS:
                counts.empty += 1
                out.append(None)
            else:
                out.append(doc)
    if not revise:
        return out

    todo = [i for i, doc in enumerate(out) if doc is not None]
    reqs = [step.request("revise", max_tokens, 2 * batch[i][1], document=out[i], **values(batch[i][0])) for i in todo]
    for i, resp in zip(todo, complete_untruncated(step, "documents", reqs, "docgen revise")):
        doc = extract_document(resp.text) if resp is not None and resp.ok and not is_unsuitable(resp.text) else ""
        if len(doc.split()) >= MIN_DOC_WORDS:
            out[i] = doc
            counts.revised += 1
        else:  # a cut-off, refused or empty revision: the complete draft stands
            counts.revise_failed += 1
    return out


def next_batch_size(need: int, attempted: int, kept: int, first: bool) -> int:
    """How many documents to write for ``need`` more: exactly ``need`` at first, then scaled by the keep
    rate seen so far (at most 4x, so a model that drops nearly everything cannot run up a huge bill)."""
    if first or attempted == 0 or kept == 0:
        return need
    return min(math.ceil(need * attempted / kept * 1.1), 4 * need)
