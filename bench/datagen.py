"""Data generation against a local OpenAI-compatible server: requests per second by concurrency, and what
the response cache saves on a rerun.

    python bench/datagen.py                                   # SmolLM2 served by `transformers serve`, datagen=smoke
    python bench/datagen.py --concurrency 1 4 8 --max-tokens 48
    python bench/datagen.py model=tiny --concurrency 1 8      # a quick look at client overheads

Starts ``transformers serve`` over the job's base model (offline, on this machine), then runs the spec's
document generation (``generate_documents``, the data stage's own code, at ``datagen=smoke`` sizes unless
overridden, documents cut at ``--max-tokens``) through ``msm.llm``'s OpenAI backend, once per
``--concurrency`` (``generator.max_concurrency``) with an empty response cache, and then once more at the
highest concurrency on the cache the first of those runs filled, in a fresh work folder, as a rerun of a
killed or finished stage would. Reported per run, from the client's own counters: requests (server calls
plus cache hits), cache hits, wall time, requests/s, output tokens/s, and the ratio of requests/s to the
first cold run. The served model samples (temperature 0.9), so cold runs at different concurrency can
fan out into different numbers of requests; the rates are per request made.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import base_model_folder, job_config, spread

from msm.data.docgen import generate_documents
from msm.llm import make_client

SERVE_TIMEOUT_S = 180


@contextlib.contextmanager
def served(folder: str, work: Path):
    """``transformers serve`` over ``folder`` on a free local port; yields the base URL (ending in /v1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = Path(sys.executable).parent / "transformers"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(work / "hf_home")}
    log = open(work / "serve.log", "wb")
    proc = subprocess.Popen([str(cli), "serve", folder, "--device", "cpu", "--host", "127.0.0.1", "--port", str(port),
                             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"transformers serve did not come up:\n{(work / 'serve.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def generate(spec, docgen_cfg, base_url: str, model: str, concurrency: int, cache: Path, work: Path, temperature: float) -> dict:
    client = make_client({"backend": "openai", "model": model, "base_url": base_url, "max_concurrency": concurrency,
                          "timeout_s": 600}, cache)
    t0 = time.perf_counter()
    report = generate_documents(spec, client, docgen_cfg, work, seed=0, temperature=temperature, progress=False)
    seconds = time.perf_counter() - t0
    u = client.usage
    requests = u.calls + u.cache_hits
    return {"concurrency": concurrency, "requests": requests, "calls": u.calls, "cache_hits": u.cache_hits,
            "failures": u.failures, "documents": report["documents"].get("kept", 0), "seconds": seconds,
            "requests_per_s": requests / seconds, "output_tokens_per_s": u.output_tokens / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides naming the job (model, spec, datagen sizes)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--max-tokens", type=int, default=64, help="document length cap (datagen.documents.max_tokens)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    cfg, spec = job_config(["datagen=smoke", f"datagen.documents.max_tokens={args.max_tokens}", *args.overrides])
    folder = base_model_folder(cfg)
    temperature = 0.9  # conf/generator/openai.yaml
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with served(folder, root) as url:
            for r in range(args.rounds):
                for c in args.concurrency:
                    runs.setdefault(f"cold, concurrency {c}", []).append(
                        generate(spec, cfg.datagen.documents, url, folder, c, root / f"cache{r}-{c}", root / f"work{r}-{c}-a",
                                 temperature))
                    print(f"round {r + 1}: {runs[f'cold, concurrency {c}'][-1]}", file=sys.stderr, flush=True)
                top = max(args.concurrency)
                runs.setdefault(f"rerun on the cache, concurrency {top}", []).append(
                    generate(spec, cfg.datagen.documents, url, folder, top, root / f"cache{r}-{args.concurrency[0]}",
                             root / f"work{r}-rerun", temperature))
    setting = (f"{cfg.model.name} served by transformers serve (CPU), spec {cfg.spec.name}, datagen smoke sizes, documents "
               f"<= {args.max_tokens} tokens, temperature {temperature}, {args.rounds} round(s)")
    first = runs[f"cold, concurrency {args.concurrency[0]}"]
    print(f"{setting}\n\n| run | requests | server calls | cache hits | wall s | requests/s | output tokens/s "
          f"| requests/s / cold at {args.concurrency[0]} |\n|---|---:|---:|---:|---:|---|---|---|")
    for name, rs in runs.items():
        ratio = [r["requests_per_s"] / f["requests_per_s"] for r, f in zip(rs, first)]
        print(f"| {name} | {rs[0]['requests']} | {rs[0]['calls']} | {rs[0]['cache_hits']} | "
              f"{spread([r['seconds'] for r in rs])} | {spread([r['requests_per_s'] for r in rs], 2)} | "
              f"{spread([r['output_tokens_per_s'] for r in rs])} | {spread(ratio, 2)}x |")
    if args.out:
        Path(args.out).write_text(json.dumps({"command": " ".join(sys.argv), "setting": setting, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
