"""The preview's cost estimate: scale a tiny slice's measured usage up to the full fan-out.

A full corpus costs thousands of calls; the preview runs one domain -> one subdomain -> one assertion ->
one type -> two ideas -> two documents, then multiplies what each level measured per request by the
number of requests the full settings make. List answers grow with the number of items asked, so a
list level's output tokens are scaled by (items asked in full / items asked in the slice), capped by the
request's token budget; prompts are taken as the slice's (they barely depend on the counts), and so is
the share of them the provider read from its prompt cache. Documents are scaled by requests per *kept*
document, so drops, regenerations and revisions are priced in.
"""

from __future__ import annotations

from msm.data.docgen_steps import Measured, estimate_tokens, list_budget

LIST_LEVELS = ("domains", "subdomains", "assertions", "doc_types", "ideas")


def fanout(s) -> dict[str, tuple[int, int]]:
    """(requests made in round 0, items asked per request) per list level."""
    d, sd, a, t, i = (s.n_domains, s.subdomains_per_domain, s.assertions_per_subdomain, s.doc_types_per_assertion,
                      s.ideas_per_type)
    return {"domains": (1, d), "subdomains": (d, sd), "assertions": (d * sd, a), "doc_types": (d * sd * a, t),
            "ideas": (d * sd * a * t, i)}


def estimate(full, slice_, measured: dict[str, Measured], docs: list[dict], client) -> dict:
    levels, notes = {}, []
    full_fan, slice_fan = fanout(full), fanout(slice_)
    for level in LIST_LEVELS:
        m, (units, items), (s_units, s_items) = measured.get(level, Measured()), full_fan[level], slice_fan[level]
        per_unit = m.requests / s_units if m.requests else 1.0
        calls = round(units * per_unit)
        in_per = m.input_tokens / m.requests if m.requests else 0.0
        out_per = min(m.output_tokens / m.requests * items / s_items, list_budget(level, items)) if m.requests else 0.0
        levels[level] = {"calls": calls, "input_tokens": round(calls * in_per), "output_tokens": round(calls * out_per),
                         **_cached(m, calls)}
    m = measured.get("documents", Measured())
    per_doc = m.requests / max(len(docs), 1) if docs else m.requests / max(slice_.target_documents, 1)
    if not docs:
        notes.append("the preview kept no document: the estimate assumes every document is kept")
    calls = round(full.target_documents * per_doc)
    levels["documents"] = {"calls": calls,
                           "input_tokens": round(calls * m.input_tokens / m.requests) if m.requests else 0,
                           "output_tokens": round(calls * m.output_tokens / m.requests) if m.requests else 0,
                           **_cached(m, calls)}
    ideas = full_fan["ideas"][0] * full_fan["ideas"][1]
    if ideas < full.target_documents:
        notes.append(f"the fan-out gives {ideas} ideas for {full.target_documents} documents: the rest are "
                     "second samples of used ideas; raise a fan-out count for more variety")
    total = {k: sum(v[k] for v in levels.values())
             for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")}
    prices = client.prices
    avg_doc = sum(estimate_tokens(d["text"]) for d in docs) / len(docs) if docs else 0.0
    return {
        "levels": levels,
        "calls": sum(v["calls"] for v in levels.values()),
        **total,
        "cost_usd": round(prices.cost(*total.values(), batched=bool(getattr(client.backend, "use_batches", False))), 4),
        "priced": prices.set,
        "ideas": ideas,
        "corpus_tokens": round(avg_doc * full.target_documents),
        "notes": notes,
    }


def _cached(m: Measured, calls: int) -> dict:
    """The slice's prompt-cache reads and writes per request, scaled to ``calls`` requests."""
    per = (lambda n: round(calls * n / m.requests)) if m.requests else (lambda n: 0)  # noqa: E731
    return {"cache_read_tokens": per(m.cache_read_tokens), "cache_write_tokens": per(m.cache_write_tokens)}


def print_preview(docs: list[dict], est: dict) -> None:
    """Print the slice's documents and the full-run estimate (what a user reads before spending)."""
    bar = "=" * 78
    print(bar)
    print(f"docgen preview: {len(docs)} sample document(s)")
    for d in docs:
        print("-" * 78)
        print(f"[{d['id']}] {d['doc_type']} | {d['domain']} / {d['subdomain']} | section {d['section']}")
        print(f"assertion: {d['assertion']}\nidea: {d['idea']}\n")
        print(d["text"][:1500] + (" [...]" if len(d["text"]) > 1500 else ""))
    print(bar)
    print("estimated full run:")
    for level, v in [*est["levels"].items(), ("total", est)]:
        print(f"  {level:<11} {v['calls']:>9,} calls {v['input_tokens']:>14,} in {v['output_tokens']:>13,} out tokens")
    cost = f"${est['cost_usd']:,.2f}" if est["priced"] else "unknown (no prices set for this generator)"
    print(f"  cost: {cost} ({est['cache_read_tokens']:,} input tokens read from the prompt cache); "
          f"corpus: ~{est['corpus_tokens']:,} tokens")
    for note in est["notes"]:
        print(f"  note: {note}")
    print(bar)
