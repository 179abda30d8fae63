"""Preview of AFT data generation: look before spending.

A full pool at the paper's size is ~12,000 responses and as many filter calls. The preview runs every step
on a slice (1 domain, 1 question per type), prints what came back and what each check said, and estimates
the full run's calls, tokens and cost from the tokens the slice used. Its domain and question requests
are exactly the full run's first ones, and so are its responses and verdicts for questions that the full
run keeps after dedup: with the response cache, a preview is mostly not paid for twice. Nothing is written.
"""

from __future__ import annotations

from msm.data import aftgen_steps
from msm.data.aftgen_steps import QUESTION_TYPES
from msm.data.listparse import item_key, parse_list
from msm.llm import Usage

ASSUMES = ("one round: every question of n_domains x 6 types x questions_per_type answered and filtered; "
           "backfill rounds (at most max_rounds - 1) add to this when dedup and drops leave the pool short")
FILTER_OUTPUT_GUESS = 40  # tokens of a verdict line and a reason, when the slice had nothing to filter


def _mean_tokens(pairs) -> tuple[float | None, float | None, float, float]:
    """Mean (input, output, prompt-cache read, prompt-cache write) tokens per call; a server that reports no
    usage is estimated at 4 chars/token."""
    pairs = [(q, r) for q, r in pairs if r.ok]
    if not pairs:
        return None, None, 0.0, 0.0
    tin = [r.input_tokens or q.prompt_chars() // 4 for q, r in pairs]
    tout = [r.output_tokens or len(r.text) // 4 for _, r in pairs]
    n = len(pairs)
    return (sum(tin) / n, sum(tout) / n, sum(r.cache_read_tokens for _, r in pairs) / n,
            sum(r.cache_write_tokens for _, r in pairs) / n)


def first_round_calls(cfg) -> dict[str, int]:
    """Calls per step of a full first round (``cfg``: ``datagen.aft``), known from the settings alone."""
    cells = cfg.n_domains * len(QUESTION_TYPES)
    return {"domains": 1, "questions": cells, "responses": cells * cfg.questions_per_type,
            "filter": cells * cfg.questions_per_type if cfg.filter else 0}


def estimate(gen, seen: dict) -> dict:
    """Calls and tokens of a full first round, scaled from the slice's per-call means (``seen``: step ->
    list of (request, response))."""
    calls = first_round_calls(gen.cfg)
    means = {step: _mean_tokens(seen[step]) for step in calls}
    if means["filter"][0] is None:  # nothing reached the filter: it reads about what a response call read and wrote
        rin, rout, rread, rwrite = means["responses"]
        means["filter"] = ((rin or 0) + (rout or 0), FILTER_OUTPUT_GUESS, rread, rwrite)
    keys = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    steps = {s: {"calls": n, **{k: round(n * (m or 0)) for k, m in zip(keys, means[s])}} for s, n in calls.items()}
    total = {k: sum(s[k] for s in steps.values()) for k in keys}
    batched = bool(getattr(gen.client.backend, "use_batches", False))
    return {"steps": steps, "calls": sum(calls.values()), **total,
            "cost_usd": round(gen.client.prices.cost(*total.values(), batched=batched), 4), "assumes": ASSUMES}


def run_preview(gen) -> dict:
    cfg = gen.cfg
    gen.check_mix()
    dreq = gen.domains_req(cfg.n_domains, [], 0)
    [dresp] = gen.ask("domains", [dreq])
    found = parse_list(dresp.text, structured=gen.structured, max_chars=120,
                       truncated=dresp.finish_reason == "length")[0] if dresp.ok else []
    domains = [d for _, d in found]
    domain = domains[0] if domains else None
    qreqs = [gen.question_req(domain, qt, cfg.questions_per_type, 0) for qt in QUESTION_TYPES] if domains else []
    qresps = gen.ask("questions", qreqs)
    picked, seen = [], set()
    for qt, resp in zip(QUESTION_TYPES, qresps):  # the first question of each type not already picked
        q = next((q for q in aftgen_steps.parse_questions(resp, cfg.questions_per_type, gen.structured)[0] if item_key(q) not in seen), None)
        if q is not None:
            seen.add(item_key(q))
            picked.append((qt, q))
    rreqs = [gen.response_req(q) for _, q in picked]
    rresps = gen.ask("responses", rreqs)
    judged = [aftgen_steps.judge_response(r, gen.rule_ids, cfg.style, gen.structured) for r in rresps]
    ok = [(i, content) for i, (status, _, content) in enumerate(judged) if status == "ok"]
    freqs = [gen.filter_req(picked[i][1], content) for i, content in ok] if cfg.filter else []
    fresps = gen.ask("filter", freqs)
    verdicts = {i: aftgen_steps.verdict(f, gen.structured) for (i, _), f in zip(ok, fresps)}
    samples = [{"domain": domain, "question_type": qt, "question": q, "response": r.text, "status": status,
                "reason": reason, "verdict": verdicts.get(i)}
               for i, ((qt, q), r, (status, reason, _)) in enumerate(zip(picked, rresps, judged))]
    est = estimate(gen, {"domains": [(dreq, dresp)], "questions": list(zip(qreqs, qresps)),
                         "responses": list(zip(rreqs, rresps)), "filter": list(zip(freqs, fresps))})

    print(f"== AFT preview: spec {gen.spec.id}, generator {gen.generator}, style {cfg.style}")
    print(f"domains ({len(domains)}): {'; '.join(domains[:10])}{' ...' if len(domains) > 10 else ''}"
          if domains else f"no usable domains in the generator's answer: {dresp.text[:300]!r}")
    for s in samples:
        v = s["verdict"]
        verdict = "" if v is None else f"; filter: {'INCLUDE' if v[0] else 'EXCLUDE'} ({v[2]})"
        reason = f" ({s['reason']})" if s["reason"] else ""
        print(f"\n-- [{s['question_type']}] {s['question']}\n{s['response'][:1500]}\n-> {s['status']}{reason}{verdict}")
    print(f"\nestimated full run: {est['calls']} calls, {est['input_tokens']:,} input + {est['output_tokens']:,} "
          f"output tokens, ${est['cost_usd']:.2f} ({ASSUMES})")
    usage = {k: u.as_dict() for k, u in gen.usage.items()}
    return {"preview": True, "spec": gen.spec.id, "generator": gen.generator, "domains": domains, "samples": samples,
            "estimate": est, "usage": {**usage, "total": sum(gen.usage.values(), Usage()).as_dict()}}
