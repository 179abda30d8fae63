"""Spec -> synthetic document corpus, written by an LLM (the MSM midtraining data).

The levels follow the public pipeline (the paper's, as published), each one a fan-out of the one before:

    spec -> domains -> subdomains (each tied to one spec section, kept verbatim) -> assertions (what the
    assistant believes or does, drawn from that section) -> document types -> document ideas -> documents

Fan-out first, then writing, because diversity has to be planned: asked for "13,000 documents about this
spec", a model writes the same five documents over and over. Every list level is one request per parent
row, parsed leniently (``msm.data.listparse``) and topped up with more requests (new ``sample_index``)
while a parent is short of its count, up to ``max_rounds``. Subdomain slots are assigned spec sections
round-robin over a seeded shuffle, so every section is covered about equally.

Documents: the writer gets the whole spec, plans in ``<plan>`` tags and writes in ``<document>`` tags;
only the document is kept. It may answer UNSUITABLE (dropped, counted). An answer cut off by
``max_tokens`` is asked again once with the next sample index, and dropped (counted) if cut again: a
truncated document is never kept. Options: a critique-and-revise pass (``revise``), near-duplicate
removal against everything already kept (``dedup_threshold``, MiniLM cosine), and a target in documents
(optionally also in estimated tokens). When drops leave the corpus short, later rounds write more:
unused ideas first, then new variants of used ideas (a fresh sample of the same idea).

Resume, twice over: every level writes its file into ``work_dir`` atomically and records a signature
of what it depends on (settings, its templates, the parent level's content) in ``docgen_state.json``
(``msm.data.resume``); a rerun skips every level whose file and signature match. Independently, every
request is deterministic (content + a position-derived ``sample_index``), so the client's disk cache
answers a rerun in a fresh folder with zero calls.

Templates are Markdown files in ``PROMPT_DIR`` with ``string.Template`` placeholders (``$spec``,
``$domain`` ...): ``$`` rather than ``{}`` so that the spec, JSON examples or code in a prompt need no
escaping. Each puts what its requests share (the spec, the instructions) in the system part and what
varies in the user part (``msm.data.templates``), for the providers' prompt caches. List levels ask for
JSON under their schema (``msm.data.schemas``) unless ``structured`` is off. ``prompts_digest()`` goes
into the pipeline's artifact key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from msm.config import DocgenConfig
from msm.data.docgen_steps import (
    DocCounts,
    Measured,
    Step,
    estimate_tokens,
    exclude_line,
    fill_slots,
    next_batch_size,
    write_documents,
)
from msm.data.resume import StepLog, all_answered
from msm.data.templates import ANSWERS_FILE, Prompt
from msm.jsonl import read_jsonl, write_json, write_jsonl
from msm.llm import LLMClient, Usage
from msm.specs import Section, Spec
from msm.store import files_digest

log = logging.getLogger(__name__)

VERSION = 2  # part of the artifact key of what this module builds: bump it when its output changes
# 2: system/user prompts (stable prefix first), list levels under JSON schemas
PROMPT_DIR = Path(__file__).parent / "prompts" / "documents"
TEMPLATE_NAMES = ("domains", "subdomains", "assertions", "doc_types", "ideas", "document", "revise")
LEVELS = ("domains", "subdomains", "assertions", "doc_types", "ideas", "documents")
FILES = {"domains": "domains.json", "subdomains": "subdomains.jsonl", "assertions": "assertions.jsonl",
         "doc_types": "doc_types.jsonl", "ideas": "ideas.jsonl", "documents": "documents.jsonl"}
STATE_FILE = "docgen_state.json"
PROVENANCE = ("domain", "subdomain", "section", "assertion", "doc_type", "idea")
# Settings and templates each level's output depends on (besides its parent level's content).
_LEVEL_DEPS = {
    "domains": (("n_domains", "max_rounds"), ("domains",)),
    "subdomains": (("subdomains_per_domain", "max_rounds"), ("subdomains",)),
    "assertions": (("assertions_per_subdomain", "max_rounds"), ("assertions",)),
    "doc_types": (("doc_types_per_assertion", "max_rounds"), ("doc_types",)),
    "ideas": (("ideas_per_type", "max_rounds"), ("ideas",)),
    "documents": (("target_documents", "target_tokens", "max_tokens", "revise", "dedup_threshold", "max_rounds"),
                  ("document", "revise")),
}
PREVIEW_SLICE = {"n_domains": 1, "subdomains_per_domain": 1, "assertions_per_subdomain": 1,
                 "doc_types_per_assertion": 1, "ideas_per_type": 2, "target_documents": 2, "target_tokens": None}


def settings(cfg: DocgenConfig | DictConfig | Mapping[str, Any]) -> DocgenConfig:
    """The pipeline's settings as the config schema's own dataclass, whatever form they come in (a config
    node, a dict of some fields, or the dataclass): one set of fields and defaults, declared once."""
    if isinstance(cfg, DocgenConfig):
        return cfg
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    return DocgenConfig(**cfg)


def _template_files() -> list[Path]:
    return [PROMPT_DIR / f"{name}.md" for name in TEMPLATE_NAMES]


def prompts_digest() -> str:
    """Digest of the template files' names and contents and of the answer lines (read at call time)."""
    return files_digest([*_template_files(), ANSWERS_FILE])


def load_templates() -> dict[str, Prompt]:
    return {p.stem: Prompt.load(p) for p in _template_files()}


def section_text(section: Section) -> str:
    """The section exactly as ``Spec.render`` writes it (heading, intro, rules with their reasons)."""
    out = [f"## {section.title}", ""]
    if section.intro:
        out += [section.intro, ""]
    for r in section.rules:
        head = f"**[{r.id}] {r.title}**" if r.title else f"**[{r.id}]**"
        out.append(f"{head}{f' (elaborates [{r.parent}])' if r.parent else ''} {r.text}")
        if r.why:
            out.append(f"Why: {r.why}")
        out.append("")
    return "\n".join(out).strip()


# ---- files ----------------------------------------------------------------------------------------


def _dump(path: Path, rows: list[dict]) -> None:
    if path.suffix == ".json":
        write_json(path, rows, indent=1)
    else:
        write_jsonl(path, rows)


def _load(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json" else read_jsonl(path)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


# ---- the run --------------------------------------------------------------------------------------


class _Run:
    """One pass over the levels in one work folder; collects the report as it goes."""

    def __init__(self, spec: Spec, client: LLMClient, s: DocgenConfig, work: Path, seed: int, temperature: float, write_docs: bool,
                 progress: bool, structured: bool):
        self.spec, self.client, self.s, self.work, self.seed = spec, client, s, work, seed
        self.write_docs = write_docs
        self.say_level = logging.INFO if progress else logging.DEBUG
        self.templates = load_templates()
        self.step = Step(client, self.templates, float(temperature), int(s.max_rounds), bool(structured))
        backend = getattr(client, "backend", None)
        self.generator = f"{getattr(backend, 'name', 'unknown')}:{getattr(backend, 'model', 'unknown')}"
        self.base = {"spec": spec.digest(), "generator": self.generator, "seed": seed,
                     "temperature": float(temperature), "structured": bool(structured), "answers": files_digest([ANSWERS_FILE])}
        self.done = StepLog(work / STATE_FILE)
        self.levels: dict[str, dict] = {}
        self.usage: dict[str, dict] = {}
        self.extra: dict[str, Any] = {}

    def level(self, name: str, parent_rows: Any, build) -> list[dict]:
        """Rows of level ``name``: from its file when its signature matches, else built and saved."""
        keys, templates = _LEVEL_DEPS[name]
        sig = _digest({**self.base, "level": name, "settings": {k: getattr(self.s, k) for k in keys},
                       "templates": {t: self.templates[t].text for t in templates}, "parent": _digest(parent_rows)})
        path, saved = self.work / FILES[name], self.done.get(name, sig)
        on_disk = saved is not None and (path.is_file() if (name != "documents" or self.write_docs) else "rows" in saved)
        if on_disk:
            log.log(self.say_level, "docgen %s: resumed from %s", name, path)
            self.levels[name] = {**saved["stats"], "resumed": True}
            self.usage[name] = Usage().as_dict()
            self.extra.update(saved.get("extra", {}))
            if saved.get("measured"):
                self.step.measured[name] = Measured(**saved["measured"])
            return _load(path) if path.is_file() else saved["rows"]
        with all_answered(self.client, f"docgen {name}") as used:
            rows, stats, extra = build()
        self.levels[name] = {**stats, "resumed": False}
        self.usage[name] = used.as_dict()
        log.log(self.say_level, "docgen %s: %d of %d kept, %d calls (%d answered by the cache)", name, stats["kept"],
                stats["requested"], used.calls + used.cache_hits, used.cache_hits)
        self.extra.update(extra)
        entry = {"stats": stats, "extra": extra, "measured": dataclasses.asdict(self.step.measured.get(name, Measured()))}
        if name != "documents" or self.write_docs:
            _dump(path, rows)
        else:
            entry["rows"] = rows  # preview: its two samples live in the state file, never in documents.jsonl
        self.done.put(name, sig, entry)
        return rows

    # -- list levels --

    def children(self, level: str, parents: list[dict], n: int, field: str, short: str, values) -> tuple:
        """Rows of ``level``: ``n`` items per parent row, each row carrying its parent's provenance."""
        def prompt(u, missing, existing, rnd):
            return self.step.list_request(level, len(missing), rnd, exclude=exclude_line(existing),
                                          **values(parents[u], missing))

        filled, stats = fill_slots(self.step, level, [[{} for _ in range(n)] for _ in parents], prompt)
        rows = []
        for parent, items in zip(parents, filled):
            base = {k: parent[k] for k in PROVENANCE if k in parent}
            rows += [{"id": f"{parent['id']}.{short}{j}", **base, field: item} for j, item in enumerate(items) if item]
        return rows, stats.as_dict(), {}

    def domains(self) -> list[dict]:
        def build():
            rows, stats, _ = self.children("domains", [{"id": ""}], self.s.n_domains, "domain", "d",
                                           lambda p, m: {"spec": self.spec.render()})
            return [{"id": r["id"].lstrip("."), "domain": r["domain"]} for r in rows], stats, {}
        return self.level("domains", {"spec": self.base["spec"]}, build)

    def subdomains(self, domains: list[dict]) -> list[dict]:
        sections = list(self.spec.sections)
        order = list(range(len(sections)))
        random.Random(f"{self.seed}/sections").shuffle(order)
        k = self.s.subdomains_per_domain

        def section_of(u: int, j: int) -> Section:
            return sections[order[(u * k + j) % len(order)]]

        def build():
            slots = [[{"section": section_of(u, j)} for j in range(k)] for u in range(len(domains))]

            def prompt(u, missing, existing, rnd):
                listing = "\n\n".join(f"Part {m}:\n{section_text(slot['section'])}"
                                      for m, slot in enumerate(missing, start=1))
                return self.step.list_request("subdomains", len(missing), rnd, spec_title=self.spec.title,
                                              domain=domains[u]["domain"], slots=listing, exclude=exclude_line(existing))

            filled, stats = fill_slots(self.step, "subdomains", slots, prompt)
            rows = [{"id": f"{d['id']}.s{j}", "domain": d["domain"], "subdomain": name,
                     "section": section_of(u, j).id, "section_title": section_of(u, j).title,
                     "section_text": section_text(section_of(u, j))}
                    for u, (d, names) in enumerate(zip(domains, filled)) for j, name in enumerate(names) if name]
            return rows, stats.as_dict(), {}
        return self.level("subdomains", domains, build)

    def assertions(self, subdomains: list[dict]) -> list[dict]:
        values = lambda p, m: {"spec_title": self.spec.title, "section": p["section_text"],  # noqa: E731
                               "domain": p["domain"], "subdomain": p["subdomain"]}
        return self.level("assertions", subdomains, lambda: self.children(
            "assertions", subdomains, self.s.assertions_per_subdomain, "assertion", "a", values))

    def doc_types(self, assertions: list[dict]) -> list[dict]:
        values = lambda p, m: {k: p[k] for k in ("domain", "subdomain", "assertion")}  # noqa: E731
        return self.level("doc_types", assertions, lambda: self.children(
            "doc_types", assertions, self.s.doc_types_per_assertion, "doc_type", "t", values))

    def ideas(self, doc_types: list[dict]) -> list[dict]:
        values = lambda p, m: {k: p[k] for k in ("domain", "subdomain", "assertion", "doc_type")}  # noqa: E731
        return self.level("ideas", doc_types, lambda: self.children(
            "ideas", doc_types, self.s.ideas_per_type, "idea", "i", values))

    # -- documents --

    def documents(self, ideas: list[dict]) -> list[dict]:
        return self.level("documents", ideas, lambda: self._write_corpus(ideas))

    def _need(self, kept: list[dict]) -> int:
        need = self.s.target_documents - len(kept)
        if self.s.target_tokens:
            have = sum(estimate_tokens(d["text"]) for d in kept)
            if have >= self.s.target_tokens:
                return 0
            if kept:
                need = min(need, -(-(self.s.target_tokens - have) * len(kept) // have))
        return max(0, need)

    def _write_corpus(self, ideas: list[dict]) -> tuple:
        pool = list(ideas)
        random.Random(f"{self.seed}/ideas").shuffle(pool)
        spec_text = self.spec.render()
        titles = {sec.id: sec.title for sec in self.spec.sections}
        counts, kept, pos = DocCounts(), [], 0
        rounds = 0
        for rnd in range(self.s.max_rounds + 1):
            need = self._need(kept)
            if need <= 0 or not pool:
                break
            rounds = rnd + 1
            n = next_batch_size(need, counts.generated, len(kept), first=rnd == 0)
            batch = [(pool[(pos + i) % len(pool)], (pos + i) // len(pool)) for i in range(n)]
            pos += n
            texts = write_documents(self.step, spec_text, titles, batch, self.s.max_tokens, self.s.revise, counts)
            cands = [(row, v, t) for (row, v), t in zip(batch, texts) if t is not None]
            if self.s.dedup_threshold is not None and cands:
                from msm.data.dedup import near_duplicates

                drop = set(near_duplicates([t for _, _, t in cands], float(self.s.dedup_threshold),
                                           keep=[d["text"] for d in kept]))
                counts.duplicates += len(drop)
                cands = [c for i, c in enumerate(cands) if i not in drop]
            kept += [{"id": f"{row['id']}.v{v}", "text": t, **{k: row[k] for k in PROVENANCE},
                      "generator": self.generator} for row, v, t in cands]
        written = len(kept)
        kept = kept[: self.s.target_documents]
        if self.s.target_tokens:  # the shortest prefix that reaches the token target
            total = 0
            for i, d in enumerate(kept):
                total += estimate_tokens(d["text"])
                if total >= self.s.target_tokens:
                    kept = kept[: i + 1]
                    break
        counts.surplus = written - len(kept)
        tokens = sum(estimate_tokens(d["text"]) for d in kept)
        counts.kept = len(kept)
        met_tokens = bool(self.s.target_tokens) and tokens >= self.s.target_tokens
        counts.shortfall = 0 if met_tokens else max(0, self.s.target_documents - len(kept))
        m = self.step.measured.get("documents", Measured())
        received = counts.generated - counts.truncated - counts.failed
        stats = {"requested": self.s.target_documents, "calls": m.requests, "received": received,
                 "parsed": received - counts.unsuitable - counts.empty, "kept": len(kept), "rounds": rounds,
                 "ideas_available": len(pool), "variants_used": -(-pos // len(pool)) if pool else 0}
        return kept, stats, {"counts": counts.as_dict(), "tokens_estimate": tokens}


# ---- entry point ----------------------------------------------------------------------------------


def generate_documents(spec: Spec, client: LLMClient, cfg: DocgenConfig | DictConfig, work_dir: Path, *, seed: int, temperature: float,
                       structured: bool = False, preview: bool = False, progress: bool = True) -> dict:
    """Write ``work_dir/documents.jsonl`` (rows: id, text, provenance, generator) and return the report.

    ``structured``: list levels ask for JSON under their schemas (``generator.structured``; see
    ``msm.data.schemas``), else for numbered lists read leniently.
    ``preview``: run a tiny slice (1 domain, 1 subdomain, 1 assertion, 1 type, 2 ideas -> 2 documents)
    in ``work_dir/preview``, print its documents and an estimate of calls, tokens and cost for the full
    settings, and return without writing documents.jsonl. ``progress`` only sets how loudly docgen logs
    each level (INFO or DEBUG); the client draws its own progress bars, and the closing summary is always
    logged at INFO.
    """
    full = settings(cfg)
    s = dataclasses.replace(full, **PREVIEW_SLICE) if preview else full
    work = Path(work_dir) / "preview" if preview else Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    run = _Run(spec, client, s, work, seed, temperature, write_docs=not preview, progress=progress, structured=structured)
    docs = run.documents(run.ideas(run.doc_types(run.assertions(run.subdomains(run.domains())))))
    report = {
        "generator": run.generator, "preview": preview, "settings": dataclasses.asdict(s),
        "prompts_digest": prompts_digest(), "levels": run.levels,
        "documents": run.extra.get("counts", DocCounts().as_dict()),
        "tokens_estimate": run.extra.get("tokens_estimate", 0),
        "usage": run.usage, "total_usage": sum((Usage(**u) for u in run.usage.values()), Usage()).as_dict(),
    }
    report["structured"] = {"asked": bool(structured), **{k: sum(lv.get(k, 0) for lv in run.levels.values())
                                                         for k in ("json_failures", "parse_failures")},
                            "schema_fallbacks": report["total_usage"]["schema_fallbacks"]}
    if preview:
        from msm.data.docgen_preview import estimate, print_preview

        report["estimate"] = estimate(full, s, run.step.measured, docs, client)
        report["samples"] = docs
        print_preview(docs, report["estimate"])
    _log_summary(report)
    return report


def _log_summary(r: dict) -> None:
    lv, d, u = r["levels"], r["documents"], r["total_usage"]
    n = {k: lv.get(k, {}).get("kept", 0) for k in LEVELS}
    short = f"a shortfall of {d['shortfall']}" if d["shortfall"] else "the target met"
    log.info(
        "docgen%s (%s): %d documents kept of %d wanted (%s), ~%d tokens; fan-out %d domains -> %d subdomains -> "
        "%d assertions -> %d document types -> %d ideas; %d documents written, dropped %d unsuitable, %d truncated "
        "(after %d regenerations), %d empty, %d failed, %d near-duplicates%s; %d calls, %d cache hits, %d+%d tokens "
        "(%d read from the provider's prompt cache), $%.4f; lists: %d answers unreadable, %d not the JSON asked for, "
        "%d schemas refused.", " preview" if r["preview"] else "", r["generator"], d["kept"], r["settings"]["target_documents"],
        short, r["tokens_estimate"], n["domains"], n["subdomains"], n["assertions"], n["doc_types"], n["ideas"],
        d["generated"], d["unsuitable"], d["truncated"], d["regenerated"], d["empty"], d["failed"], d["duplicates"],
        f"; revised {d['revised']} ({d['revise_failed']} revisions unusable)" if r["settings"]["revise"] else "",
        u["calls"], u["cache_hits"], u["input_tokens"], u["output_tokens"], u["cache_read_tokens"], u["cost_usd"],
        r["structured"]["parse_failures"], r["structured"]["json_failures"], r["structured"]["schema_fallbacks"])
