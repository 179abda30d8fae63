"""Spec -> pool of AFT demonstrations, written by an LLM (the paper's description of its public data pipeline).

Steps, each leaving a file in ``work_dir``:
conversation domains (``domains.json``) -> user questions of 6 types per domain (``questions.jsonl``) ->
near-duplicate removal with MiniLM (``questions_dedup.jsonl``) -> responses written with the whole spec in
the generator's system prompt as ``<think>...</think>`` + answer (``responses.jsonl``; truncated, refused,
malformed and spec-citing answers are dropped here by deterministic checks, see ``aftgen_steps``) -> an LLM
INCLUDE/EXCLUDE filter (``filtered.jsonl``) -> backfill rounds with new questions while the pool is short
of ``target_rows`` (``max_rounds`` rounds in all, the first included) -> ``pool.jsonl`` and its CoT-free
twin ``pool_no_cot.jsonl`` (same ids). Saved rows carry no system prompt: the spec is distilled out of
the context, which is the point of the exercise.

Resume: a step's file is written atomically and then recorded in ``progress.json`` (``msm.data.resume``); a
rerun in the same ``work_dir`` skips recorded steps, and the client's disk cache answers any request already
made, because every request carries a fixed ``sample_index`` (data seed x 1000 + round or attempt).
``preview=True`` runs a slice and estimates the cost of the whole (``msm.data.aftgen_preview``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from collections import Counter
from pathlib import Path

from msm.config import AftgenConfig
from msm.data import aftgen_steps
from msm.data.aftgen_steps import QUESTION_GUIDE, QUESTION_TYPES, QUESTION_TYPES_FILE
from msm.data.listparse import item_key, parse_list
from msm.data.resume import StepLog, all_answered
from msm.data.schemas import ITEM_CHARS, json_budget, list_schema, response_schema, verdict_schema
from msm.data.templates import ANSWERS_FILE, Prompt, answer_line
from msm.errors import MsmError
from msm.jsonl import read_jsonl, write_json, write_jsonl
from msm.llm import LLMClient, Request, Usage
from msm.specs import Spec
from msm.store import files_digest

log = logging.getLogger(__name__)

VERSION = 2  # part of the artifact key of what this module builds: bump it when its output changes
# 2: stable prompt prefixes, answers under JSON schemas
PROMPT_DIR = Path(__file__).parent / "prompts" / "aft"
FILES = {"domains": "domains.json", "questions": "questions.jsonl", "dedup": "questions_dedup.jsonl",
         "responses": "responses.jsonl", "filter": "filtered.jsonl"}
ROUND_STEPS = ("questions", "dedup", "responses", "filter")
SAMPLE_STRIDE = 1000  # sample_index = seed * SAMPLE_STRIDE + round/attempt: a new data seed, new samples
FILTER_MAX_TOKENS = 512  # a verdict and a sentence; reasoning models need some room before it


def prompts_digest() -> str:
    """Digest of the templates and of the question-type descriptions (which fill the questions template):
    part of the artifact key, so editing a prompt regenerates the pool instead of reusing the old wording."""
    return files_digest([*PROMPT_DIR.glob("*.md"), QUESTION_TYPES_FILE, ANSWERS_FILE])


def _add(total: dict, part: dict) -> dict:
    """Sum count dicts (histograms nested one level), for totals over rounds."""
    for k, v in part.items():
        if isinstance(v, dict):
            total[k] = dict(Counter(total.get(k, {})) + Counter(v))
        elif isinstance(v, int) and not isinstance(v, bool):
            total[k] = total.get(k, 0) + v
    return total


class _AftGen:
    """One run over one work_dir: the steps as methods, their rows in ``self.rows``, counts in ``self.rounds`` (recorded in a StepLog)."""

    def __init__(self, spec: Spec, client: LLMClient, cfg: AftgenConfig, work_dir: Path, seed: int, temperature: float,
                 progress: bool, structured: bool = False):
        if cfg.style not in ("value", "rules"):
            raise MsmError(f"datagen.aft.style={cfg.style!r}: expected value or rules")
        if cfg.target_rows < 1 or cfg.n_domains < 1 or cfg.questions_per_type < 1:
            raise MsmError("datagen.aft: target_rows, n_domains and questions_per_type must be >= 1")
        if cfg.mix_rows and not cfg.mix_path:
            raise MsmError(f"datagen.aft.mix_rows={cfg.mix_rows} needs datagen.aft.mix_path (a JSONL of chats)")
        self.spec, self.client, self.cfg, self.seed, self.temperature = spec, client, cfg, seed, float(temperature)
        self.structured = bool(structured)
        self.work = Path(work_dir)
        self.rule_ids = [r.id for r in spec.rules]
        self.fields = {"spec": spec.render(), "rule_ids": ", ".join(f"[{r}]" for r in self.rule_ids),
                       "first_rule": self.rule_ids[0]}
        self.generator = f"{client.backend.name}:{client.backend.model}"
        self.usage = {s: Usage() for s in ("domains", "questions", "responses", "filter")}
        self.bar = {"progress": progress} if "progress" in inspect.signature(client.complete_many).parameters else {}
        self.skipped: list[str] = []

    # ---- requests --------------------------------------------------------------------------------

    def ask(self, step: str, reqs: list[Request]):
        if not reqs:
            return []
        with self.client.stage_usage() as used:
            out = self.client.complete_many(reqs, desc=f"aftgen {step}", **self.bar)
        self.usage[step] = self.usage[step] + used
        return out

    def req(self, name: str, answer: str, max_tokens: int, k: int, schema: dict, **fields) -> Request:
        """The request of template ``name``: under ``schema`` and asking for JSON when structured, else asking
        for the free-text form (``answer`` names the step's answer lines in ``prompts/answers.yaml``)."""
        system, user = Prompt.load(PROMPT_DIR / f"{name}.md").render(
            {**self.fields, **fields, "answer": answer_line(f"aft/{answer}", self.structured)})
        return Request(messages=({"role": "user", "content": user},), system=system, max_tokens=max_tokens,
                       temperature=self.temperature, sample_index=self.seed * SAMPLE_STRIDE + k,
                       schema=schema if self.structured else None, tag=f"aft/{name}")

    def list_req(self, name: str, chars: str, n: int, k: int, **fields) -> Request:
        budget = max(self.cfg.max_tokens, json_budget(n, ITEM_CHARS[chars])) if self.structured else self.cfg.max_tokens
        return self.req(name, name, budget, k, list_schema(n, chars), n=n, **fields)

    def domains_req(self, n: int, found: list[str], attempt: int) -> Request:
        exclude = f"\nThese are taken already; do not repeat them: {'; '.join(found)}.\n" if found else ""
        return self.list_req("domains", "aft_domains", n, attempt, exclude=exclude)

    def question_req(self, domain: str, qtype: str, n: int, r: int) -> Request:
        return self.list_req("questions", "questions", n, r, domain=domain, question_type=qtype.replace("_", " "),
                             type_description=QUESTION_GUIDE[qtype])

    def response_req(self, question: str) -> Request:
        return self.req(f"response_{self.cfg.style}", "response", self.cfg.max_tokens, 0,
                        response_schema(self.cfg.max_tokens), question=question)

    def filter_req(self, question: str, content: str) -> Request:
        return self.req("filter", "filter", min(self.cfg.max_tokens, FILTER_MAX_TOKENS), 0, verdict_schema(),
                        question=question, response=content)

    # ---- steps -------------------------------------------------------------------------------------

    def step_domains(self) -> tuple[list[str], dict]:
        n, found, c = self.cfg.n_domains, [], Counter()
        for attempt in range(max(1, self.cfg.max_rounds)):
            if len(found) >= n:
                break
            [resp] = self.ask("domains", [self.domains_req(n - len(found) if found else n, found, attempt)])
            c["requests"] += 1
            items, not_json = parse_list(resp.text, structured=self.structured, max_chars=120,
                                         truncated=resp.finish_reason == "length") if resp.ok else ([], False)
            c.update(json_failures=int(not_json), parse_failures=int(resp.ok and not items and (not_json or not self.structured)))
            for _, d in items:
                if item_key(d) not in {item_key(f) for f in found}:
                    found.append(d)
        if not found:  # reported as a shortfall like any other drop; the log says where it started
            log.warning("aftgen: the generator (%s) returned no usable conversation domains", self.generator)
        return found[:n], {"asked": n, "requests": c["requests"], "parsed": len(found), "kept": min(n, len(found)),
                           "json_failures": c["json_failures"], "parse_failures": c["parse_failures"]}

    def step_questions(self, r: int):
        per_cell = self.per_cell
        cells = [(di, d, qt) for di, d in enumerate(self.domains) for qt in QUESTION_TYPES]
        resps = self.ask("questions", [self.question_req(d, qt, per_cell, r) for _, d, qt in cells])
        rows, c = [], Counter(asked=per_cell * len(cells))
        for (di, d, qt), resp in zip(cells, resps):
            qs, counts = aftgen_steps.parse_questions(resp, per_cell, self.structured)
            c.update(counts)
            rows += [{"qid": f"{self.spec.id}-r{r}-d{di:03d}-{qt}-{k:02d}", "round": r, "domain": d,
                      "question_type": qt, "question": q} for k, q in enumerate(qs)]
        keys = ("requests", "failed_requests", "asked", "parsed", "mentions_spec", "surplus", "json_failures",
                "parse_failures")
        return rows, {**{k: c[k] for k in keys},
                      "kept": len(rows), "per_cell": per_cell}

    def step_dedup(self, r: int):
        from msm.data.dedup import near_duplicates

        new = [q for q in self.rows["questions"] if q["round"] == r]
        prior = [q["question"] for q in self.rows["dedup"] if q["round"] < r]
        seen, fresh = {item_key(q) for q in prior}, []
        for q in new:  # exact repeats first (free), then paraphrases by embedding
            if item_key(q["question"]) not in seen:
                seen.add(item_key(q["question"]))
                fresh.append(q)
        drop = set(near_duplicates([q["question"] for q in fresh], self.cfg.dedup_threshold, keep=prior))
        rows = [q for i, q in enumerate(fresh) if i not in drop]
        return rows, {"in": len(new), "duplicates": len(new) - len(rows), "kept": len(rows)}

    def step_responses(self, r: int):
        todo = [q for q in self.rows["dedup"] if q["round"] == r]
        rows, c, why = [], Counter(), Counter()
        for q, resp in zip(todo, self.ask("responses", [self.response_req(q["question"]) for q in todo])):
            status, reason, content = aftgen_steps.judge_response(resp, self.rule_ids, self.cfg.style, self.structured)
            c[status] += 1
            c["json_failures"] += reason == aftgen_steps.NOT_JSON
            if status == "malformed":
                why[reason] += 1
            rows.append({**q, "status": status, "reason": reason, "finish_reason": resp.finish_reason,
                         "raw": resp.text, "content": content})
        return rows, {"asked": len(todo), **{s: c[s] for s in aftgen_steps.STATUSES}, "malformed_reasons": dict(why),
                      "json_failures": c["json_failures"]}

    def step_filter(self, r: int):
        todo = [x for x in self.rows["responses"] if x["round"] == r and x["status"] == "ok"]
        if self.cfg.filter:
            verdicts = [aftgen_steps.verdict(x, self.structured)
                        for x in self.ask("filter", [self.filter_req(y["question"], y["content"]) for y in todo])]
        else:
            verdicts = [(True, "ok", "filter off")] * len(todo)
        rows = [{"qid": x["qid"], "round": r, "include": inc, "category": cat, "reason": why}
                for x, (inc, cat, why) in zip(todo, verdicts)]
        excluded = Counter(row["category"] for row in rows if not row["include"])
        return rows, {"asked": len(todo), "included": len(todo) - sum(excluded.values()),
                      "excluded": sum(excluded.values()), "excluded_reasons": dict(excluded),
                      "parse_failures": excluded[aftgen_steps.UNPARSABLE] + excluded[aftgen_steps.AMBIGUOUS]}

    def step_pool(self):
        responses = {x["qid"]: x for x in self.rows["responses"]}
        rows = []
        for f in (f for f in self.rows["filter"] if f["include"]):
            x = responses[f["qid"]]
            rows.append({"id": x["qid"], "messages": [{"role": "user", "content": x["question"]},
                                                      {"role": "assistant", "content": x["content"]}],
                         "domain": x["domain"], "question_type": x["question_type"], "style": self.cfg.style,
                         "filter_reason": f["reason"], "source": "generated", "generator": self.generator})
        chosen = aftgen_steps.select(rows, self.cfg.target_rows, self.seed)
        mix = aftgen_steps.load_mix(self.cfg.mix_path, self.cfg.mix_rows, self.seed) if self.cfg.mix_rows else []
        pool = chosen + mix
        write_jsonl(self.work / "pool_no_cot.jsonl", aftgen_steps.no_cot_twins(pool))
        write_jsonl(self.work / "pool.jsonl", pool)
        return {"included": len(rows), "kept": len(chosen), "surplus": len(rows) - len(chosen),
                "shortfall": max(0, self.cfg.target_rows - len(chosen)), "mix": len(mix), "rows": len(pool)}

    def check_mix(self) -> None:
        """Read the mix file up front: a bad line should fail the run before it spends anything."""
        if self.cfg.mix_rows:
            aftgen_steps.load_mix(self.cfg.mix_path, self.cfg.mix_rows, self.seed)

    def mix_identity(self) -> str | None:
        """The mix file's content and row count: the pool is reassembled when they change."""
        if not self.cfg.mix_rows:
            return None
        return f"{hashlib.sha256(Path(self.cfg.mix_path).read_bytes()).hexdigest()}:{self.cfg.mix_rows}"

    # ---- the run -----------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """What the step files in work_dir depend on (mixing only changes the pool: see ``mix_identity``)."""
        keys = ("target_rows", "n_domains", "questions_per_type", "style", "dedup_threshold", "filter",
                "max_tokens", "max_rounds")
        blob = {"spec": self.spec.digest(), "prompts": prompts_digest(), "generator": self.generator,
                "seed": self.seed, "temperature": self.temperature, **{k: getattr(self.cfg, k) for k in keys},
                **({"structured": True} if self.structured else {})}
        return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()

    def run(self) -> dict:
        self.work.mkdir(parents=True, exist_ok=True)
        fp = self.fingerprint()
        self.log = StepLog(self.work / "progress.json")
        if self.log.signatures() - {fp}:
            raise MsmError(f"{self.work} holds an AFT run made with other settings (spec, prompts, generator, "
                           "seed or datagen.aft); use a fresh work_dir")
        self.rows = {s: read_jsonl(self.work / FILES[s]) if (self.work / FILES[s]).exists() else []
                     for s in ROUND_STEPS}
        self.check_mix()
        self.domain_counts = self.log.get("domains", fp)
        if self.domain_counts is None:
            with all_answered(self.client, "aftgen domains"):
                domains, self.domain_counts = self.step_domains()
            write_json(self.work / FILES["domains"], {"domains": domains})
            self.log.put("domains", fp, self.domain_counts)
        else:
            self.skipped.append("domains")
        self.domains = json.loads((self.work / FILES["domains"]).read_text(encoding="utf-8"))["domains"]
        cap, target = self.cfg.questions_per_type, self.cfg.target_rows
        self.rounds: list[dict] = []  # per round, each step's counts
        for r in range(max(1, self.cfg.max_rounds) if self.domains else 1):  # no domains: empty files, no backfill
            included = sum(f["include"] for f in self.rows["filter"] if f["round"] < r)
            if r > 0 and included >= target:
                break
            asked = sum(rd["questions"]["kept"] for rd in self.rounds[:r])
            self.per_cell = cap if r == 0 else aftgen_steps.backfill_per_cell(
                target, included, asked, len(self.domains) * len(QUESTION_TYPES), cap)
            self.rounds.append({})
            for step in ROUND_STEPS:
                name = f"{step}@{r}"
                counts = self.log.get(name, fp)
                if counts is not None:
                    self.skipped.append(name)
                else:
                    with all_answered(self.client, f"aftgen {name}"):
                        rows, counts = getattr(self, f"step_{step}")(r)
                    self.rows[step] = [x for x in self.rows[step] if x["round"] != r] + rows
                    write_jsonl(self.work / FILES[step], self.rows[step])
                    self.log.put(name, fp, counts)
                self.rounds[r][step] = counts
        mix = self.mix_identity()
        self.pool_counts = self.log.get("pool", fp)
        if self.pool_counts is None or self.pool_counts.get("mix_identity") != mix or not (self.work / "pool.jsonl").exists():
            self.pool_counts = {**self.step_pool(), "mix_identity": mix}
            self.log.put("pool", fp, self.pool_counts)
        else:
            self.skipped.append("pool")
        report = self.report()
        write_json(self.work / "report.json", report)
        st, rs = report["steps"], report["steps"]["responses"]
        log.info("aftgen %s: %d of %d rows (shortfall %d), %d mixed in, %d round(s); questions %d (%d duplicates); "
                 "responses %s; filter kept %d, excluded %s; skipped %s", self.spec.id, report["generated_rows"],
                 target, report["shortfall"], report["mix_rows"], report["rounds"], st["questions"].get("kept", 0),
                 st["dedup"].get("duplicates", 0), {k: rs.get(k, 0) for k in aftgen_steps.STATUSES},
                 st["filter"].get("included", 0), st["filter"].get("excluded_reasons", {}), self.skipped or "nothing")
        return report

    def report(self) -> dict:
        rounds = self.rounds
        steps = {"domains": self.domain_counts}
        for s in ROUND_STEPS:
            steps[s] = {}
            for rd in rounds:
                _add(steps[s], rd.get(s, {}))
        steps["questions"].pop("per_cell", None)
        steps["pool"] = pool = {k: v for k, v in self.pool_counts.items() if k != "mix_identity"}
        usage = {k: u.as_dict() for k, u in self.usage.items()}
        total = sum(self.usage.values(), Usage()).as_dict()
        structured = {"asked": self.structured, "schema_fallbacks": total["schema_fallbacks"],
                      **{k: sum(st.get(k, 0) for st in steps.values()) for k in ("json_failures", "parse_failures")}}
        return {"spec": self.spec.id, "structured": structured, "generator": self.generator, "style": self.cfg.style,
                "target_rows": self.cfg.target_rows, "rows": pool["rows"], "generated_rows": pool["kept"],
                "mix_rows": pool["mix"], "shortfall": pool["shortfall"], "rounds": len(rounds), "steps": steps,
                "per_round": rounds, "usage": {**usage, "total": total},
                "skipped": self.skipped}


def generate_aft_pool(spec: Spec, client: LLMClient, cfg: AftgenConfig, work_dir: Path, *, seed: int, temperature: float,
                      structured: bool = False, preview: bool = False, progress: bool = True) -> dict:
    """Write ``pool.jsonl`` and ``pool_no_cot.jsonl`` into ``work_dir`` and return the report (see the
    module docstring). ``preview``: 1 domain and 1 question per type only, samples and an estimate of the
    full run's calls, tokens and cost printed and returned, nothing written (see ``msm.data.aftgen_preview``).
    ``progress`` is handed to the client's progress bars where the client accepts it. ``structured``: every step
    asks for JSON under its schema (``msm.data.schemas``), else for free text read leniently."""
    gen = _AftGen(spec, client, cfg, Path(work_dir), seed, temperature, progress, structured)
    if preview:
        from msm.data.aftgen_preview import run_preview

        return run_preview(gen)
    return gen.run()
