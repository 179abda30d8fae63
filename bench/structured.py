"""Structured outputs and prompt caching in data generation: what schemas do to a small model's list answers,
what a cached spec prefix saves, and what the paper's data for one spec costs with and without both.

    python bench/structured.py                                   # the embedded SmolLM2, cheese_affordability
    python bench/structured.py --requests 8 --rounds 2 spec=value_aug
    python bench/structured.py model=tiny --requests 4          # a quick look (random weights)

Three parts, each from msm's own code:

1. parse failures and throughput, JSON schema vs free text: the document pipeline's own list requests
   (its domains, assertions and ideas prompts, ``--requests`` of each, sampled at temperature 0.9), asked
   with their schema (``generator.structured=true``) and without, through the local ``hf`` backend
   (decoding under the schema) and through ``transformers serve`` (which ignores ``response_format``: the
   same JSON-asking prompts, unconstrained). Reported per backend and mode: answers, the share that gave
   no item (a parse failure), the share that was not the JSON asked for, items per answer against those
   asked, output tokens/s and wall time; ratios against free text on the same backend, in interleaved rounds.
2. prompt caching on the Anthropic stand-in (a local server speaking Anthropic's wire format, which
   caches a marked prefix as the API does, from 1,024 tokens): the document pipeline at ``datagen=smoke``
   sizes for ``--cache-spec`` (value_aug: about 3,000 words), with ``prompt_cache`` on and off: input tokens, tokens read from and written to the
   cache, and the bill at Claude Sonnet's list prices ($3 / $15 per million; reads $0.30, writes $3.75).
3. the plan's estimate of ``--cache-spec``'s paper-scale data (``datagen=paper``: 13,000 documents and a
   10,000-row AFT pool) on Anthropic (Sonnet prices) and OpenAI (gpt-4.1-mini: $0.40 / $1.60, cached
   reads $0.10): without caching, with it, and with Anthropic's Message Batches on top. OpenAI caches by
   itself, so its "no prompt cache" line is the same calls with cached reads billed at the input price.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

from common import base_model_folder, hardware, job_config, spread, write_report

from msm.data.docgen import generate_documents, load_templates, section_text
from msm.data.docgen_steps import MIN_WORDS, Step
from msm.data.listparse import parse_list
from msm.evals.serving import transformers_serve
from msm.llm import make_client

LEVELS = ("domains", "assertions", "ideas")
TEMPERATURE = 0.9
SONNET = {"price_in_per_mtok": 3.0, "price_out_per_mtok": 15.0}
GPT41_MINI = {"price_in_per_mtok": 0.4, "price_out_per_mtok": 1.6}


# ---- 1. parse failures and throughput --------------------------------------------------------------------


def list_requests(spec, n: int, structured: bool) -> list:
    """``n`` of each list level's own requests (docgen's templates and budgets), each a different sample."""
    step = Step(client=None, templates=load_templates(), temperature=TEMPERATURE, max_rounds=0, structured=structured)
    section = spec.sections[0]
    values = {"domains": {"spec": spec.render(), "exclude": ""},
              "assertions": {"spec_title": spec.title, "section": section_text(section), "domain": "public libraries",
                             "subdomain": "a reference desk", "exclude": ""},
              "ideas": {"domain": "public libraries", "subdomain": "a reference desk", "doc_type": "a staff newsletter",
                        "assertion": spec.rules[0].text, "exclude": ""}}
    asked = {"domains": 4, "assertions": 3, "ideas": 2}
    return [(level, asked[level], step.list_request(level, asked[level], k, **values[level]))
            for level in LEVELS for k in range(n)]


def measure(client, reqs: list, structured: bool) -> dict:
    t0 = time.perf_counter()
    resps = client.complete_many([r for _, _, r in reqs], desc="bench")
    seconds = time.perf_counter() - t0
    failed = not_json = items = wanted = 0
    for (level, n, _), resp in zip(reqs, resps):
        found, bad_json = parse_list(resp.text, structured=structured, min_words=MIN_WORDS[level],
                                     truncated=resp.finish_reason == "length") if resp.ok else ([], False)
        failed += not found
        not_json += bad_json
        items += min(len(found), n)
        wanted += n
    out_tokens = sum(r.output_tokens for r in resps)
    return {"answers": len(resps), "parse_failure_rate": failed / len(resps), "not_json_rate": not_json / len(resps),
            "items_share": items / wanted, "output_tokens": out_tokens, "seconds": seconds,
            "output_tokens_per_s": out_tokens / seconds}


# ---- 2. prompt caching on the Anthropic stand-in -----------------------------------------------------------


def caching(spec, docgen_cfg, root: Path) -> dict:
    import os

    from tests.integration.servers.anthropic_standin import AnthropicStandIn

    os.environ.setdefault("MSM_BENCH_KEY", "bench")  # the stand-in takes any key; msm sends one to a base_url only when told
    out = {}
    for cache in (False, True):
        with AnthropicStandIn().running() as server:
            client = make_client({"backend": "anthropic", "model": "claude-sonnet-4-5", "base_url": server.base_url,
                                  "send_key": True, "api_key_env": "MSM_BENCH_KEY", "prompt_cache": cache, **SONNET},
                                 cache_dir=None)
            report = generate_documents(spec, client, docgen_cfg, root / f"cache-{cache}", seed=0,
                                        temperature=TEMPERATURE, structured=True, progress=False)
        u = report["total_usage"]
        out["on" if cache else "off"] = {k: u[k] for k in ("calls", "input_tokens", "cache_read_tokens",
                                                          "cache_write_tokens", "output_tokens", "cost_usd")}
    return out


# ---- 3. the plan's estimate at paper scale -----------------------------------------------------------------


def paper_estimates(spec_name: str) -> dict:
    from msm.plan import sweep_plan

    base = ["stages=[data]", "model=tiny", "aft.data=generated", "datagen=paper", f"spec={spec_name}"]
    cases = {"anthropic, no prompt cache": ["generator=anthropic", "generator.prompt_cache=false"],
             "anthropic, prompt cache": ["generator=anthropic"],
             "anthropic, prompt cache + batches": ["generator=anthropic", "generator.use_batches=true"],
             "openai, no prompt cache": ["generator=openai", "generator.price_cache_read_per_mtok=0.4",
                                         *(f"generator.{k}={v}" for k, v in GPT41_MINI.items())],
             "openai, prompt cache": ["generator=openai", *(f"generator.{k}={v}" for k, v in GPT41_MINI.items())]}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, more in cases.items():
            cfg = job_config([*base, f"paths.store={tmp}", *more]).cfg
            t = sweep_plan([cfg])["totals"]
            out[name] = {k: t[k] for k in ("llm_calls", "input_tokens", "cached_tokens", "output_tokens", "cost_usd")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides naming the job (model, spec)")
    parser.add_argument("--requests", type=int, default=8, help="requests of each list level per mode")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--skip-serve", action="store_true", help="leave out the transformers serve runs")
    parser.add_argument("--cache-spec", default="value_aug",
                        help="the spec of parts 2 and 3 (the default, ~3,000 words, is long enough to be cached)")
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    job = job_config(["model=smollm2_135m", "datagen=smoke", *args.overrides])
    cfg, spec = job.cfg, job.spec
    folder = base_model_folder(job)
    runs: dict[str, list[dict]] = {}
    hf = make_client({"backend": "hf", "model": folder, "batch_size": 8}, cache_dir=None)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        url = None if args.skip_serve else stack.enter_context(
            transformers_serve(Path(folder), device="cpu", log_path=root / "serve.log"))
        for r in range(args.rounds):  # interleaved: machine noise hits every run alike
            for structured in (False, True):
                reqs = list_requests(spec, args.requests, structured)
                mode = "JSON schema" if structured else "free text"
                runs.setdefault(f"hf, {mode}", []).append(measure(hf, reqs, structured))
                if url is not None:
                    served = make_client({"backend": "openai", "model": folder, "base_url": url, "timeout_s": 600},
                                         cache_dir=None)
                    runs.setdefault(f"transformers serve, {mode}", []).append(measure(served, reqs, structured))
                for name in [n for n in runs if n.endswith(mode)]:
                    print(f"round {r + 1}: {name}: {runs[name][-1]}", file=sys.stderr, flush=True)
        cache_spec = job_config([f"spec={args.cache_spec}"]).spec
        cached = caching(cache_spec, cfg.datagen.documents, root)
    paper = paper_estimates(args.cache_spec)

    setting = (f"{cfg.model.name}, spec {cfg.spec.name}, {args.requests} requests of each of {', '.join(LEVELS)} per mode, "
               f"temperature {TEMPERATURE}, {args.rounds} round(s), {hardware()}")
    print(f"{setting}\n\n| backend, answers | answers | parse failures | not the JSON asked for | items / asked | "
          f"output tokens/s | wall s | tokens/s / free text |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, rs in runs.items():
        free = runs[name.rsplit(", ", 1)[0] + ", free text"]
        ratio = [x["output_tokens_per_s"] / f["output_tokens_per_s"] for x, f in zip(rs, free)]
        print(f"| {name} | {rs[0]['answers']} | {spread([x['parse_failure_rate'] for x in rs], 2)} | "
              f"{spread([x['not_json_rate'] for x in rs], 2)} | {spread([x['items_share'] for x in rs], 2)} | "
              f"{spread([x['output_tokens_per_s'] for x in rs])} | {spread([x['seconds'] for x in rs])} | "
              f"{spread(ratio, 2)}x |")
    print(f"\n| Anthropic stand-in, docgen at smoke sizes, spec {args.cache_spec} | calls | input tokens | read from cache | written to cache "
          "| output tokens | USD at Sonnet prices |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, u in cached.items():
        print(f"| prompt cache {name} | {u['calls']} | {u['input_tokens']:,} | {u['cache_read_tokens']:,} | "
              f"{u['cache_write_tokens']:,} | {u['output_tokens']:,} | {u['cost_usd']:.4f} |")
    print(f"\n| paper-scale data for {args.cache_spec} (the plan's estimate) | LLM calls | input tokens | read from cache "
          "| output tokens | USD | / no cache |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, e in paper.items():
        ref = paper[f"{name.split(',')[0]}, no prompt cache"]["cost_usd"]
        print(f"| {name} | {e['llm_calls']:,} | {e['input_tokens']:,} | {e['cached_tokens']:,} | {e['output_tokens']:,} | "
              f"{e['cost_usd']:,.0f} | {e['cost_usd'] / ref:.2f}x |")
    write_report(args.out, setting=setting, runs=runs, prompt_cache=cached, paper=paper)


if __name__ == "__main__":
    main()
