"""Training throughput: msm's training loop against TRL's SFTTrainer and the plain HF Trainer, same model,
data, LoRA, precision and gradient checkpointing, in interleaved rounds within one process.

    python bench/throughput.py midtrain.batch_size=4 midtrain.max_seq_len=512 --steps 3 --rounds 2
    python bench/throughput.py --stage aft aft.batch_size=4 --steps 3 --rounds 2
    python bench/throughput.py model=tiny --steps 20 --rounds 3            # a quick look at overheads

Every trainer makes ``--steps`` optimizer updates of the stage's ``batch_size`` rows on the job's data (its
documents, or its AFT rows with loss on assistant tokens only), from the same freshly loaded base model and
LoRA adapter. Reported: real (non-padding) tokens trained per second of ``trainer.train()`` (median over
rounds, min-max) and each trainer's ratio to msm's in the same round. Trainers:

- ``msm``: the pipeline's loop (pack_sequences, msm/train/loop.py);
- ``msm, frozen weights fp32`` (under bf16 only): the same loop with LoRA's frozen weights left in fp32
  (``msm.models.cast_frozen_linears`` off), so autocast re-casts them every pass: what that lever is worth;
- ``HF Trainer, padding``: one sequence per row, each batch padded to its longest;
- ``TRL, no packing`` / ``TRL, packing``: SFTTrainer on the same token sequences (``packing=True`` is TRL's
  best-fit decreasing with padding-free batches), gradient checkpointing set like msm's;
- ``TRL defaults, packing``: the same with TRL's own default (gradient checkpointing on).

TRL (pinned in ``pyproject.toml``) runs its lines; the model is the job's (``model=...``).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch
from common import base_model_folder, editable, hardware, job_config, pipeline_data, spread, write_report
from datasets import Dataset, disable_progress_bars
from packing import sequences
from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

from msm.data.transforms import IGNORE_INDEX, pack_sequences
from msm.models import load_model, load_tokenizer, use_bf16_autocast
from msm.train import loop
from msm.train.loop import add_trainable_weights


class Counting:
    """A collator that counts the real tokens of the batches it makes."""

    def __init__(self, collate, flat: bool = False):
        self.collate, self.flat, self.tokens = collate, flat, 0

    def __call__(self, features):
        batch = self.collate(features)
        mask = batch.get("attention_mask")
        self.tokens += int(mask.sum()) if mask is not None and not self.flat else int(batch["input_ids"].numel())
        return batch


def fresh_model(folder: str, stage_cfg, dtype: str):
    model = load_model(folder, dtype=dtype, trainable_adapter=True)
    model.train()
    return add_trainable_weights(model, "lora", stage_cfg.lora, has_adapter=False, seed=0)


def args_for(out: Path, stage_cfg, steps: int, bf16: bool, checkpointing: bool) -> dict:
    return dict(output_dir=str(out), max_steps=steps, per_device_train_batch_size=stage_cfg.batch_size,
                learning_rate=stage_cfg.lr, lr_scheduler_type=str(stage_cfg.scheduler), warmup_steps=0,
                weight_decay=stage_cfg.weight_decay, logging_steps=max(steps, 1), save_strategy="no", report_to="none",
                use_cpu=not torch.cuda.is_available(), bf16=bf16, gradient_checkpointing=checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": False}, remove_unused_columns=False,
                dataloader_num_workers=0, seed=0, data_seed=0)


def timed(trainer, counter) -> float:
    t0 = time.perf_counter()
    trainer.train()
    return counter.tokens / (time.perf_counter() - t0)


def run_msm(folder, tok, seqs, max_len, stage_cfg, steps, dtype, work, frozen_bf16: bool = True) -> float:
    model = fresh_model(folder, stage_cfg, dtype)
    packed = pack_sequences({k: [s[k] for s in seqs] for k in ("input_ids", "labels")}, max_len)
    cfg = editable(stage_cfg)
    cfg.max_steps, cfg.save_steps, cfg.logging_steps = steps, 10**6, steps
    # frozen_bf16=False: the frozen weights stay fp32 (cast_frozen_linears off; autocast re-casts them every pass)
    keep = contextlib.nullcontext() if frozen_bf16 else mock.patch.object(loop, "cast_frozen_linears", lambda m, d: 0)
    with keep:
        stats = loop.train(model, tok, Dataset.from_dict(packed), cfg, work, 0, "bench", lambda r: None)
    return stats["tokens_per_s"]


def run_hf(folder, tok, seqs, stage_cfg, steps, dtype, work, bf16) -> float:
    model = fresh_model(folder, stage_cfg, dtype)
    rows = Dataset.from_list([{**s, "attention_mask": [1] * len(s["input_ids"])} for s in seqs])
    counter = Counting(DataCollatorForSeq2Seq(tok, padding=True, label_pad_token_id=IGNORE_INDEX))
    trainer = Trainer(model=model, args=TrainingArguments(**args_for(work, stage_cfg, steps, bf16,
                                                                     stage_cfg.activation_checkpointing)),
                      train_dataset=rows, data_collator=counter)
    return timed(trainer, counter)


def run_trl(folder, tok, seqs, max_len, stage_cfg, steps, dtype, work, bf16, packing: bool, checkpointing: bool) -> float:
    from trl import SFTConfig, SFTTrainer

    model = fresh_model(folder, stage_cfg, dtype)
    rows = Dataset.from_list([{"input_ids": s["input_ids"],
                               "completion_mask": [int(x != IGNORE_INDEX) for x in s["labels"]]} for s in seqs])
    config = SFTConfig(**args_for(work, stage_cfg, steps, bf16, checkpointing), max_length=max_len,
                       packing=packing, completion_only_loss=True)
    trainer = SFTTrainer(model=model, args=config, train_dataset=rows, processing_class=tok)
    counter = Counting(trainer.data_collator, flat=packing)  # padding-free: one flattened row, no padding
    trainer.data_collator = counter
    return timed(trainer, counter)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides naming the job (model, data, stage sizes)")
    parser.add_argument("--stage", choices=("midtrain", "aft"), default="midtrain")
    parser.add_argument("--steps", type=int, default=3, help="optimizer updates per trainer and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    disable_progress_bars()
    job = job_config(args.overrides)
    cfg = job.cfg
    stage_cfg = cfg[args.stage]
    max_len = stage_cfg.max_seq_len or cfg.model.max_seq_len
    docs, chats = pipeline_data(job)
    folder = base_model_folder(job)
    tok = load_tokenizer(folder, cfg.model.chat_template)
    seqs = sequences("documents" if args.stage == "midtrain" else "chats", docs if args.stage == "midtrain" else chats,
                     tok, max_len)
    bf16 = use_bf16_autocast(str(stage_cfg.precision), load_model(folder, dtype=cfg.model.dtype))
    gc = stage_cfg.activation_checkpointing
    common = (folder, tok, seqs)
    rest = (stage_cfg, args.steps, cfg.model.dtype)
    trainers = {
        "msm": lambda w: run_msm(*common, max_len, *rest, w),
        **({"msm, frozen weights fp32": lambda w: run_msm(*common, max_len, *rest, w, frozen_bf16=False)} if bf16 else {}),
        "HF Trainer, padding": lambda w: run_hf(*common, *rest, w, bf16),
        "TRL, no packing": lambda w: run_trl(*common, max_len, *rest, w, bf16, False, gc),
        "TRL, packing": lambda w: run_trl(*common, max_len, *rest, w, bf16, True, gc),
        "TRL defaults, packing": lambda w: run_trl(*common, max_len, *rest, w, bf16, True, True),
    }
    try:
        import trl  # noqa: F401
    except ImportError:
        print("trl is not installed: the TRL lines are left out (pip install trl==1.16.0)", file=sys.stderr)
        trainers = {k: v for k, v in trainers.items() if not k.startswith("TRL")}
    speed: dict[str, list[float]] = {name: [] for name in trainers}
    for round_ in range(args.rounds):  # interleaved: machine noise hits every trainer alike
        for name, run in trainers.items():
            with tempfile.TemporaryDirectory() as work:
                speed[name].append(run(Path(work)))
            print(f"round {round_ + 1}: {name}: {speed[name][-1]:,.1f} real tokens/s", file=sys.stderr, flush=True)
    setting = (f"{cfg.model.name}, {args.stage}, {len(seqs)} sequences, max_seq_len {max_len}, batch "
               f"{stage_cfg.batch_size}, LoRA r={stage_cfg.lora.r}, {'bf16 autocast' if bf16 else 'fp32'}, "
               f"gradient checkpointing {'on' if gc else 'off'}, {args.steps} updates x {args.rounds} rounds, "
               f"{hardware()}")
    print(f"{setting}\n\n| trainer | real tokens/s, median (min-max) | msm / trainer, median (min-max) |\n|---|---|---|")
    results = []
    for name, values in speed.items():
        ratios = [m / v for m, v in zip(speed["msm"], values)]
        print(f"| {name} | {spread(values)} | {spread(ratios, 2)}x |")
        results.append({"trainer": name, "tokens_per_s": values, "msm_over_trainer": ratios})
    write_report(args.out, setting=setting, results=results)


if __name__ == "__main__":
    main()
