"""Eval throughput by batch size: forced-choice items per second (the value eval) and generated tokens per
second (the agentic eval's HF sampler), on the job's base model, in interleaved rounds within one process.

    python bench/evals.py                                            # SmolLM2 (the embedded default's model)
    python bench/evals.py --batch-sizes 1 4 16 --items 64 --rounds 3
    python bench/evals.py model=tiny --rounds 1                      # a quick look at overheads

Value eval: ``--items`` of the job's eval items (``select_items``, spread over domains), scored by each of
``--scorers`` through ``score_items``, the function the eval stage calls; an item is two forward rows for
``letter`` (both orders), four for ``stance``, and two greedy answers for ``generate``.

Agentic eval: the first ``--prompts`` conditions of ``--grid``, one sample each, through ``sample_hf`` (what
``eval.sampler=hf`` runs) at the grid's temperature, ``--new-tokens`` new tokens at most. Tokens counted are
those of the decoded responses, re-tokenized: a row that ends early stops counting, though a batch runs
until its longest row ends, which is what batching costs.

Every figure is reported with its ratio to batch size 1 in the same round. vLLM is not measured here (it
needs a GPU; ``eval.sampler=vllm``).
"""

from __future__ import annotations

import argparse
import sys
import time

from common import base_model_folder, hardware, job_config, spread, write_report
from datasets import disable_progress_bars

from msm.evals.agentic.assemble import grid_sampling
from msm.evals.agentic.run import grid_prompts
from msm.evals.cheese import select_items
from msm.evals.forced_choice import score_items
from msm.evals.sampling import sample_hf
from msm.models import load_model, load_tokenizer, use_bf16_autocast


def items_per_s(model, tok, items, scorer: str, batch_size: int, bf16: bool) -> float:
    t0 = time.perf_counter()
    score_items(model, tok, items, batch_size, desc=f"{scorer} b{batch_size}", bf16=bf16, scorer=scorer)
    return len(items) / (time.perf_counter() - t0)


def tokens_per_s(model, tok, prompts, batch_size: int, settings: dict, bf16: bool) -> float:
    t0 = time.perf_counter()
    out = sample_hf(model, tok, prompts, 1, temperature=settings["temperature"], max_new_tokens=settings["max_new_tokens"],
                    batch_size=batch_size, seed=0, bf16=bf16)
    seconds = time.perf_counter() - t0
    return sum(len(tok(r[0], add_special_tokens=False)["input_ids"]) for r in out) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides naming the job (model, eval.precision)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--items", type=int, default=48, help="value-eval items scored per batch size and round")
    parser.add_argument("--scorers", nargs="+", default=["letter", "stance", "generate"])
    parser.add_argument("--grid", default="paper", help="agentic grid whose conditions are sampled")
    parser.add_argument("--prompts", type=int, default=16, help="agentic conditions sampled per batch size and round")
    parser.add_argument("--new-tokens", type=int, default=64, help="max new tokens per agentic sample")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    disable_progress_bars()
    job = job_config(args.overrides)
    cfg = job.cfg
    folder = base_model_folder(job)
    tok = load_tokenizer(folder, cfg.model.chat_template)
    model = load_model(folder, dtype=cfg.model.dtype)
    bf16 = use_bf16_autocast(str(cfg.eval.precision), model)
    items = select_items(None, args.items, cfg.seed)
    prompts = grid_prompts(args.grid)[: args.prompts]
    settings = {"temperature": grid_sampling(args.grid)["temperature"], "max_new_tokens": args.new_tokens}
    runs = {(f"value eval, {s}", "items/s"): (lambda b, s=s: items_per_s(model, tok, items, s, b, bf16)) for s in args.scorers}
    runs[(f"agentic, hf generate ({len(prompts)} prompts, <= {args.new_tokens} new tokens)", "tokens/s")] = (
        lambda b: tokens_per_s(model, tok, prompts, b, settings, bf16))
    speed = {(name, b): [] for name in runs for b in args.batch_sizes}
    for round_ in range(args.rounds):  # interleaved: machine noise hits every batch size alike
        for name, run in runs.items():
            for b in args.batch_sizes:
                speed[name, b].append(run(b))
                print(f"round {round_ + 1}: {name[0]}, batch {b}: {speed[name, b][-1]:,.2f} {name[1]}",
                      file=sys.stderr, flush=True)
    setting = (f"{cfg.model.name}, {len(items)} value-eval items, {args.grid} grid, "
               f"{'bf16 autocast' if bf16 else str(next(model.parameters()).dtype).removeprefix('torch.')}, "
               f"{args.rounds} rounds, {hardware()}")
    print(f"{setting}\n\n| eval | batch | rate, median (min-max) | / batch {args.batch_sizes[0]} |\n|---|---:|---|---|")
    results = []
    for (name, unit), b in speed:
        values, base = speed[(name, unit), b], speed[(name, unit), args.batch_sizes[0]]
        ratios = [v / v0 for v, v0 in zip(values, base)]
        print(f"| {name} | {b} | {spread(values, 2)} {unit} | {spread(ratios, 2)}x |")
        results.append({"eval": name, "unit": unit, "batch_size": b, "rate": values, "over_first_batch_size": ratios})
    write_report(args.out, setting=setting, results=results)


if __name__ == "__main__":
    main()
