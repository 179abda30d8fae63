"""Data generation against a local OpenAI-compatible server: requests per second by concurrency, and what
the response cache saves on a rerun.

    python bench/datagen.py                                   # SmolLM2 served by `transformers serve`, datagen=smoke
    python bench/datagen.py --concurrency 1 4 8 --max-tokens 48
    python bench/datagen.py model=tiny --concurrency 1 8      # a quick look at client overheads

Starts ``transformers serve`` over the job's base model (offline, on this machine), then measures two loads
through ``msm.llm``'s OpenAI backend, once per ``--concurrency`` (``generator.max_concurrency``) with an empty
response cache, and once more at the highest concurrency on the cache the first of those runs filled:

- fixed: ``--requests`` document requests (one per rule of the spec, each sampled as often as it takes),
  ``--max-tokens`` each, sent together (``complete_many``), so every run makes the same number of requests;
- docgen: the spec's document generation (``generate_documents``, the data stage's own code, at
  ``datagen=smoke`` sizes unless overridden, documents cut at ``--max-tokens``), in a fresh work folder
  each time, as a rerun of a killed or finished stage runs it. Its fan-out depends on what the model
  answers: a small model's lists may not parse, and then docgen stops early and says so.

Reported per run, from the client's own counters: requests (server calls plus cache hits), cache hits,
documents kept, wall time, requests/s, output tokens/s, and the ratio of requests/s to the cold run at
the first concurrency. The served model samples (temperature 0.9), so docgen's cold runs can fan out
into different numbers of requests; the rates are per request made.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import base_model_folder, job_config, spread, write_report

from msm.data.docgen import generate_documents
from msm.evals.serving import transformers_serve
from msm.llm import make_client


def generate(spec, docgen_cfg, base_url: str, model: str, concurrency: int, cache: Path, work: Path, temperature: float) -> dict:
    client = make_client({"backend": "openai", "model": model, "base_url": base_url, "max_concurrency": concurrency,
                          "timeout_s": 600}, cache)
    t0 = time.perf_counter()
    report = generate_documents(spec, client, docgen_cfg, work, seed=0, temperature=temperature, progress=False)
    return measured(client, concurrency, time.perf_counter() - t0, report["documents"].get("kept", 0))


def fixed_load(spec, n: int, max_tokens: int, temperature: float) -> list:
    from msm.llm import Request

    rules = list(spec.rules)
    return [Request(messages=({"role": "user", "content": f"Write a short memo that discusses this rule:\n{rules[i % len(rules)].text}"},),
                    max_tokens=max_tokens, temperature=temperature, sample_index=i // len(rules), tag="bench/fixed")
            for i in range(n)]


def send(reqs, base_url: str, model: str, concurrency: int, cache: Path) -> dict:
    client = make_client({"backend": "openai", "model": model, "base_url": base_url, "max_concurrency": concurrency,
                          "timeout_s": 600}, cache)
    t0 = time.perf_counter()
    client.complete_many(reqs, desc="bench")
    return measured(client, concurrency, time.perf_counter() - t0, documents=None)


def measured(client, concurrency: int, seconds: float, documents) -> dict:
    u = client.usage
    requests = u.calls + u.cache_hits
    return {"concurrency": concurrency, "requests": requests, "calls": u.calls, "cache_hits": u.cache_hits,
            "failures": u.failures, "documents": documents, "seconds": seconds,
            "requests_per_s": requests / seconds, "output_tokens_per_s": u.output_tokens / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides naming the job (model, spec, datagen sizes)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--max-tokens", type=int, default=64, help="document length cap (datagen.documents.max_tokens)")
    parser.add_argument("--requests", type=int, default=32, help="requests of the fixed load")
    parser.add_argument("--continuous-batching", action="store_true",
                        help="serve with transformers serve --continuous-batching (otherwise it answers one request at a time)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    job = job_config(["datagen=smoke", f"datagen.documents.max_tokens={args.max_tokens}", *args.overrides])
    cfg, spec = job.cfg, job.spec
    folder = base_model_folder(job)
    temperature = 0.9  # conf/generator/openai.yaml
    runs: dict[str, list[dict]] = {}
    top, first_c = max(args.concurrency), args.concurrency[0]
    fixed = fixed_load(spec, args.requests, args.max_tokens, temperature)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with transformers_serve(Path(folder), device="cpu", log_path=root / "serve.log",
                                extra_args=["--continuous-batching"] if args.continuous_batching else []) as url:
            for r in range(args.rounds):  # interleaved: machine noise hits every run alike
                for c in args.concurrency:
                    runs.setdefault(f"fixed, cold, concurrency {c}", []).append(send(fixed, url, folder, c, root / f"f{r}-{c}"))
                    runs.setdefault(f"docgen, cold, concurrency {c}", []).append(
                        generate(spec, cfg.datagen.documents, url, folder, c, root / f"d{r}-{c}", root / f"w{r}-{c}", temperature))
                runs.setdefault(f"fixed, rerun on the cache, concurrency {top}", []).append(
                    send(fixed, url, folder, top, root / f"f{r}-{first_c}"))
                runs.setdefault(f"docgen, rerun on the cache, concurrency {top}", []).append(
                    generate(spec, cfg.datagen.documents, url, folder, top, root / f"d{r}-{first_c}", root / f"w{r}-rerun",
                             temperature))
                for name, rs in runs.items():
                    print(f"round {r + 1}: {name}: {rs[-1]}", file=sys.stderr, flush=True)
    setting = (f"{cfg.model.name} served by transformers serve (CPU{', continuous batching' if args.continuous_batching else ''}), spec {cfg.spec.name}, fixed load {args.requests} "
               f"requests, docgen at datagen smoke sizes, <= {args.max_tokens} tokens an answer, temperature {temperature}, "
               f"{args.rounds} round(s)")
    print(f"{setting}\n\n| run | requests | server calls | cache hits | documents kept | wall s | requests/s | "
          f"output tokens/s | requests/s / cold at concurrency {first_c} |\n|---|---:|---:|---:|---:|---|---|---|---|")
    for name, rs in runs.items():
        first = runs[f"{name.split(',')[0]}, cold, concurrency {first_c}"]
        ratio = [x["requests_per_s"] / f["requests_per_s"] for x, f in zip(rs, first)]
        print(f"| {name} | {rs[0]['requests']} | {rs[0]['calls']} | {rs[0]['cache_hits']} | "
              f"{'-' if rs[0]['documents'] is None else rs[0]['documents']} | {spread([x['seconds'] for x in rs], 2)} | "
              f"{spread([x['requests_per_s'] for x in rs], 2)} | {spread([x['output_tokens_per_s'] for x in rs])} | "
              f"{spread(ratio, 2)}x |")
    write_report(args.out, setting=setting, runs=runs)


if __name__ == "__main__":
    main()
