"""GPU training figures: real tokens/s, MFU/HFU and peak memory of msm's training loop on 1B-8B-class models
built from their configs (random weights: speed does not depend on them), LoRA and full fine-tuning, at
4k-token rows of packed documents of mixed lengths.

    python bench/gpu.py --out bench/results/gpu.json                      # the prepared run (one GPU, ~10 min)
    python bench/gpu.py --runs tiny:lora tiny:full --seq 256 --steps 2    # the same code on a CPU, in seconds

Each run (``arch:method``, architectures in ``bench/assets/archs.yaml``) builds the model in fp32 on the
device, trains ``--steps`` updates (after ``--warmup`` untimed ones) through ``msm.train.loop.train`` with the
stage config of ``midtrain`` (LoRA r=64 on every projection, bf16 autocast where the device has it,
activation checkpointing as ``--checkpointing`` says), and reads the loop's own meter (msm/train/flops.py).
Peak memory is ``torch.cuda.max_memory_allocated``. A run that runs out of memory is reported as such and
the next one goes on. Full fine-tuning of the 8B model needs ~128 GB for fp32 weights, gradients and Adam
states before activations, so it is left out of the default list for one GPU.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from common import editable, job_config, write_report
from datasets import Dataset, disable_progress_bars

from msm.data.transforms import pack_sequences
from msm.train import loop
from msm.train.loop import add_trainable_weights

ARCHS = Path(__file__).parent / "assets" / "archs.yaml"
DEFAULT_RUNS = ["llama_1b:lora", "llama_1b:full", "llama_3b:lora", "qwen3_8b:lora"]


def build(arch: str, device: str):
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen3Config

    spec = dict(yaml.safe_load(ARCHS.read_text())[arch])
    config = {"llama": LlamaConfig, "qwen3": Qwen3Config}[spec.pop("family")](**spec, max_position_embeddings=32768)
    config.use_cache = False
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="sdpa")
    return model


def packed_rows(vocab: int, seq: int, rows: int, seed: int = 0) -> Dataset:
    """``rows`` packed rows of ``seq`` tokens: random-token documents of 1/16 to 1 row long, packed as training packs."""
    rng = random.Random(seed)
    docs, total = [], 0
    while total < seq * rows * 1.02:
        n = rng.randint(seq // 16, seq)
        docs.append([rng.randrange(3, vocab) for _ in range(n)])
        total += n
    packed = pack_sequences({"input_ids": docs, "labels": docs}, seq)
    return Dataset.from_dict({k: v[:rows] for k, v in packed.items()})


class NoTokenizer:
    """What the loop asks of a tokenizer when the rows are token ids already: the padding id."""

    pad_token_id = 0

    def save_pretrained(self, path) -> None:  # the Trainer saves its processing class with a checkpoint
        pass


def one_run(arch: str, method: str, stage_cfg, seq: int, steps: int, warmup: int, device: str) -> dict:
    if device == "cuda":
        torch.cuda.empty_cache()
    model = build(arch, device)
    model.train()
    model = add_trainable_weights(model, method, stage_cfg.lora, has_adapter=False, seed=0)  # LoRA freezes the rest
    data = packed_rows(model.config.vocab_size, seq, stage_cfg.batch_size * (steps + warmup))
    tok = NoTokenizer()
    cfg = editable(stage_cfg)
    cfg.method, cfg.max_seq_len, cfg.save_steps, cfg.logging_steps = method, seq, 10**6, 1
    with tempfile.TemporaryDirectory() as work:
        if warmup:
            cfg.max_steps = warmup
            loop.train(model, tok, data.select(range(stage_cfg.batch_size * warmup)), cfg, Path(work) / "w", 0, "warmup",
                       lambda r: None)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        cfg.max_steps = steps
        stats = loop.train(model, tok, data, cfg, Path(work) / "t", 0, "bench", lambda r: None)
    out = {"arch": arch, "method": method, "seq": seq, "batch_size": stage_cfg.batch_size, "steps": steps,
           "params_b": sum(p.numel() for p in model.parameters()) / 1e9,
           **{k: stats.get(k) for k in ("tokens_per_s", "real_token_fraction", "model_tflops_per_s", "mfu", "hfu",
                                         "peak_tflops", "bf16_autocast", "mean_step_s", "loss")},
           "bf16_weights_b": sum(p.numel() for p in model.parameters() if p.dtype == torch.bfloat16) / 1e9,
           "peak_memory_gb": torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None}
    del model
    gc.collect()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, help="arch:method pairs (method: lora or full)")
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=2, help="packed rows per update")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2, help="untimed updates first (kernel selection, allocator)")
    parser.add_argument("--checkpointing", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    disable_progress_bars()
    cfg = job_config(["model=tiny", f"midtrain.batch_size={args.batch_size}",
                      f"midtrain.activation_checkpointing={args.checkpointing}"]).cfg
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    results = []
    for run in args.runs:
        arch, method = run.split(":")
        t0 = time.perf_counter()
        try:
            r = one_run(arch, method, cfg.midtrain, args.seq, args.steps, args.warmup, device)
        except torch.OutOfMemoryError as e:
            r = {"arch": arch, "method": method, "error": f"out of memory: {str(e).splitlines()[0]}"}
            gc.collect()
        r["wall_s"] = time.perf_counter() - t0
        results.append(r)
        print(json.dumps(r), file=sys.stderr, flush=True)
    setting = (f"{name}, rows of {args.seq} tokens, batch {args.batch_size}, {args.steps} timed updates after "
               f"{args.warmup}, activation checkpointing {'on' if args.checkpointing else 'off'}, LoRA r={cfg.midtrain.lora.r}")
    print(f"{setting}\n\n| model | method | params (B) | real tokens/s | model TFLOP/s | MFU | HFU | peak GB |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|")
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    for r in results:
        if "error" in r:
            print(f"| {r['arch']} | {r['method']} | | {r['error']} | | | | |")
            continue
        print(f"| {r['arch']} | {r['method']} | {r['params_b']:.2f} | {fmt(r['tokens_per_s'], ',.0f')} | "
              f"{fmt(r['model_tflops_per_s'], '.1f')} | {fmt(r['mfu'], '.1%')} | {fmt(r['hfu'], '.1%')} | "
              f"{fmt(r['peak_memory_gb'], '.1f')} |")
    write_report(args.out, setting=setting, results=results)


if __name__ == "__main__":
    main()
