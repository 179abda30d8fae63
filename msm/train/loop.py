"""One causal-LM training run on the transformers Trainer, shared by midtraining and AFT.

Both stages are "next-token loss over packed examples": they differ only in what carries a label
(every document token vs. assistant tokens only), which the data transforms decide. The loop adds
what a research run needs on top of the Trainer: LoRA or full tuning, checkpoints in the stage's
work folder so a rerun resumes, a loss that must stay finite, and loss / tokens / step time sent to
the job's tracker.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from functools import partial
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from tqdm.auto import tqdm
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from msm import console
from msm.config import HealthConfig
from msm.data.transforms import IGNORE_INDEX, collate_packed
from msm.errors import EmptyDatasetError, MsmError, NonFiniteLossError
from msm.models import cast_frozen_linears, use_bf16_autocast
from msm.train.flops import FlopMeter, Shape, peak_tflops, rates

VERSION = 2  # part of every trained artifact's key: bump when the loop would now train differently (2: frozen weights in bf16)
log = logging.getLogger(__name__)


class _Watch(TrainerCallback):
    """Stops a diverged run, and forwards loss, tokens seen and step time to the tracker.

    Records are held back until the checkpoint that covers them is written (and until the end): a run
    killed or preempted after a checkpoint resumes from it and logs the later steps again, so had they
    been sent already, the tracker's history would hold them twice. Sent at checkpoints, the history of
    a resumed run tiles every step exactly once. The cost: the live curve moves at ``save_steps``.
    """

    def __init__(self, stage: str, log_fn, meter: FlopMeter | None = None, peak: float | None = None):
        self.stage, self.log_fn, self.t_step = stage, log_fn, None
        self.step_times: list[float] = []
        self.pending: list[dict] = []
        self.meter, self.peak = meter, peak  # throughput is logged per logging window
        self.window = (time.perf_counter(), meter.snapshot()) if meter else None

    def _flush(self) -> None:
        for record in self.pending:
            self.log_fn(record)
        self.pending = []

    def on_save(self, args, state, control, **kw):
        self._flush()

    def on_train_end(self, args, state, control, **kw):
        self._flush()

    def on_step_begin(self, args, state, control, **kw):
        self.t_step = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        if self.t_step is not None:
            self.step_times.append(time.perf_counter() - self.t_step)
        last = state.global_step >= state.max_steps
        if last:  # no checkpoint of the finished run: resumed from one, the Trainer makes an update too many
            control.should_save = False
        # Log at every checkpoint and at the last step, so the logged windows tile every step: a resumed
        # run then reports the same mean loss as an uninterrupted one (see mean_logged_loss).
        if control.should_save or last:
            control.should_log = True

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        for name in ("loss", "grad_norm"):
            value = logs.get(name)
            if value is not None and not math.isfinite(float(value)):
                raise NonFiniteLossError(
                    f"{self.stage}: the training {name} became {value} at step {state.global_step}, so the loss "
                    f"became non-finite; nothing was published. Lower {self.stage}.lr or check the data."
                )
        record = {f"{self.stage}/{k}": v for k, v in logs.items() if isinstance(v, (int, float))}
        if "train_loss" in logs:  # the Trainer's figure covers only the updates since the last resume
            record[f"{self.stage}/train_loss"] = mean_logged_loss(state.log_history)
        record[f"{self.stage}/step"] = state.global_step
        if self.meter is not None:
            now = (time.perf_counter(), self.meter.snapshot())
            window = rates(self.window[1], now[1], now[0] - self.window[0], self.peak)
            record.update({f"{self.stage}/{k}": v for k, v in window.items() if v is not None})
            self.window = now
        if self.step_times:
            record[f"{self.stage}/step_time_s"] = sum(self.step_times[-args.logging_steps :]) / len(
                self.step_times[-args.logging_steps :]
            )
        self.pending.append(record)


class _TimedSaves(TrainerCallback):
    """Asks for a checkpoint once ``minutes`` have passed since the last one (``save_minutes``), on top of
    ``save_steps``: on a cluster where a step takes minutes, a step count alone can leave hours unsaved.

    Several workers must agree on when to save (a checkpoint is written by all of them together), and
    their clocks do not: rank 0's decision is sent to every worker at each step.
    """

    def __init__(self, minutes: float):
        self.seconds, self.last = minutes * 60, time.monotonic()

    def on_save(self, args, state, control, **kw):
        self.last = time.monotonic()

    def on_step_end(self, args, state, control, **kw):
        due = time.monotonic() - self.last >= self.seconds
        if world_size() > 1:
            import torch.distributed as dist

            flag = torch.tensor([int(due)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
            dist.broadcast(flag, src=0)
            due = bool(flag.item())
        if due:
            control.should_save = True


class _Progress(TrainerCallback):
    """One progress bar per stage (updates done, ETA, latest loss) in place of the Trainer's bar and its
    log dict printed every ``logging_steps`` (``log_level=debug`` brings those back)."""

    def __init__(self, stage: str):
        self.stage, self.bar = stage, None

    def on_train_begin(self, args, state, control, **kw):
        self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.stage, unit="update",
                        dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kw):
        self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kw):
        if self.bar is not None and "loss" in (logs or {}):
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    def on_train_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.close()


def world_size() -> int:
    """How many data-parallel workers train this stage (torchrun sets WORLD_SIZE; msm.train.distributed)."""
    return int(os.environ.get("WORLD_SIZE", 1))


def is_lead() -> bool:
    """Rank 0, or the only process: the one that saves weights, stats and curves and shows progress."""
    return int(os.environ.get("RANK", 0)) == 0


def last_complete_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest checkpoint that was fully written, deleting any that a crash cut off mid-save.

    The Trainer writes ``trainer_state.json`` last (after weights, optimizer, scheduler and RNG
    state), so a checkpoint whose state file is missing or unparsable is incomplete; resuming from
    it would fail or, worse, silently restart parts of the state.
    """
    checkpoints = sorted(ckpt_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    for path in checkpoints:
        try:
            json.loads((path / "trainer_state.json").read_text())
            return str(path)
        except (OSError, ValueError):
            shutil.rmtree(path, ignore_errors=True)
    return None


def mean_logged_loss(log_history: list[dict]) -> float | None:
    """The mean per-update training loss over the whole run, from the logged windows (each entry's loss is
    the mean of the updates since the previous entry), weighted by window length.

    The Trainer's own ``training_loss`` averages only the updates made since the last resume; the log
    history travels inside every checkpoint, so this figure is the same whether or not the run was
    interrupted (the callback logs at every checkpoint, so no update falls between a checkpoint and a log).
    """
    total, last_step = 0.0, 0
    for entry in log_history:
        if "loss" in entry and "step" in entry:
            total += float(entry["loss"]) * (entry["step"] - last_step)
            last_step = entry["step"]
    return total / last_step if last_step else None


def add_trainable_weights(model, method: str, lora_cfg, has_adapter: bool, seed: int):
    """LoRA (a fresh adapter unless the model already carries a trainable one) or full tuning.

    A fresh adapter is initialised from ``seed`` alone, in a forked RNG: drawn from the global RNG, it
    would change with anything that consumed random numbers before it (another stage, a data shuffle),
    so the same job would not give the same adapter.
    """
    if method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    if method != "lora":
        raise ValueError(f"unknown training method {method!r} (expected lora or full)")
    if has_adapter:
        return model
    config = LoraConfig(r=lora_cfg.r, lora_alpha=lora_cfg.alpha, lora_dropout=lora_cfg.dropout,
                        target_modules=list(lora_cfg.target_modules), task_type="CAUSAL_LM")
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return get_peft_model(model, config)


def planned_updates(n_rows: int, stage_cfg) -> int:
    """The optimizer updates a stage will make over ``n_rows`` packed rows, computed as the Trainer does."""
    if stage_cfg.max_steps > 0:
        return int(stage_cfg.max_steps)
    batches = math.ceil(n_rows / stage_cfg.batch_size)
    per_epoch = max(batches // stage_cfg.grad_accum + int(batches % stage_cfg.grad_accum > 0), 1)
    return math.ceil(stage_cfg.epochs * per_epoch)


def check_planned(n_rows: int, stage_cfg, health: HealthConfig, stage: str) -> None:
    """Under ``train.strict``, refuse a stage that would make too few updates before spending anything on it."""
    planned = planned_updates(n_rows, stage_cfg)
    if health.strict and planned < health.min_updates:
        raise MsmError(f"{stage}: {n_rows} packed rows at {stage}.batch_size={stage_cfg.batch_size} x grad_accum="
                       f"{stage_cfg.grad_accum} x epochs={stage_cfg.epochs} make {planned} optimizer updates, fewer "
                       f"than train.min_updates={health.min_updates} (train.strict=true): lower the batch size, add "
                       "epochs or data, or lower train.min_updates")


def assess(stats: dict, health: HealthConfig, stage: str) -> str:
    """``ok``, or a warning that says why the stage probably learned little (too few updates, flat loss)."""
    problems = []
    if stats["steps"] < health.min_updates:
        problems.append(f"only {stats['steps']} optimizer updates (train.min_updates={health.min_updates}): a "
                        "stage this short rarely changes behaviour, so a null result from it means little")
    start, end = stats.get("loss_start"), stats.get("final_loss")
    if start is not None and end is not None and not end < start:
        problems.append(f"the training loss did not fall ({start:.4f} -> {end:.4f})")
    if not problems:
        return "ok"
    message = f"warning: {stage}: " + "; ".join(problems)
    if health.strict:
        raise MsmError(message.replace("warning: ", "", 1) + " (train.strict=true: nothing was published)")
    if is_lead():  # several workers reach the same verdict: say it once
        log.warning(message)
    return message


def _fsdp_config(model) -> dict:
    """FSDP2 (accelerate's plugin, through the Trainer): each decoder layer is one shard unit, and
    checkpoints are written shard by shard (no worker ever holds the whole optimizer state).

    Activation checkpointing stays the model's own (the Trainer's argument), though transformers advises
    FSDP's: FSDP's wraps each layer in a module whose name joins the parameter paths, and PEFT then finds
    no adapter weights to save, so every checkpoint and the published adapter came out empty (measured:
    a resumed run restarted from the initial adapter). The price is one more all-gather per layer."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return {"version": 2, "transformer_layer_cls_to_wrap": list(base._no_split_modules),
            "state_dict_type": "SHARDED_STATE_DICT"}


class _Trainer(Trainer):
    """The Trainer, sharding on CPU too. accelerate turns its FSDP plugin on only for GPU-like devices,
    though FSDP2 itself shards over gloo on CPU; so on CPU (CI's stand-in for a GPU node) the plugin the
    Trainer built from ``fsdp_config`` is attached to accelerate's state after the fact, and the CPU run
    takes the code path a GPU run takes: sharded parameters, sharded checkpoints, the gathered save."""

    def create_accelerator_and_postprocess(self):
        super().create_accelerator_and_postprocess()
        if self.args.fsdp_plugin_args is None or self.is_fsdp_enabled:
            return
        from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

        plugin = FullyShardedDataParallelPlugin(**self.args.fsdp_plugin_args)
        if self.accelerator.mixed_precision != "no":
            plugin.set_mixed_precision(self.accelerator.mixed_precision)
        self.accelerator.state.distributed_type = DistributedType.FSDP
        self.accelerator.state.fsdp_plugin = plugin
        self.is_fsdp_enabled = True


def _publish(trainer: Trainer, model, tokenizer, folder: Path, with_tokenizer: bool) -> None:
    """Write the trained weights (a LoRA model writes its adapter alone). Sharded, every worker sends its
    shards of the trainable weights to rank 0; otherwise rank 0 holds them already. Only rank 0 writes."""
    state = None
    if trainer.is_fsdp_enabled:  # the trainable weights (the adapter, under LoRA) gathered on rank 0, in CPU memory
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        state = get_model_state_dict(trainer.model_wrapped, options=StateDictOptions(
            full_state_dict=True, cpu_offload=True, ignore_frozen_params=True))
    if not is_lead():
        return
    model.save_pretrained(str(folder), state_dict=state)
    if with_tokenizer:
        tokenizer.save_pretrained(str(folder))
    if not any(_tensor_names(f) for f in folder.glob("*.safetensors")):  # an empty file would look complete
        raise MsmError(f"the trained weights written to {folder} hold no tensors; nothing was published")


def _tensor_names(path: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return list(f.keys())


def train(model, tokenizer, dataset, stage_cfg, work_dir: Path, seed: int, stage: str, log_fn,
          health: HealthConfig | None = None, publish_to: Path | None = None, with_tokenizer: bool = False) -> dict:
    """Train ``model`` in place on packed rows (``input_ids``, ``labels``, ``position_ids``); return run stats,
    and write the final weights to ``publish_to`` (with the tokenizer if ``with_tokenizer``).

    ``batch_size`` counts packed rows of up to max_seq_len tokens, so a step sees about
    batch_size x max_seq_len tokens however long the individual documents or chats are. The stats say
    how healthy the run was (``health``: updates, tokens per update, the loss at the start and the end;
    see :func:`assess`).
    """
    health = health or HealthConfig()
    if len(dataset) == 0:
        raise EmptyDatasetError(f"{stage}: no training examples (the data stage produced none)")
    on_gpu = next(model.parameters()).device.type == "cuda" or (world_size() > 1 and torch.cuda.is_available())
    bf16 = use_bf16_autocast(stage_cfg.precision, model)
    workers = world_size()  # batch_size is the global batch: each worker takes its share (preflight: divisible)
    sharded = workers > 1 and stage_cfg.sharding == "fsdp"
    frozen_cast = cast_frozen_linears(model, torch.bfloat16) if bf16 and not sharded else 0  # FSDP flattens one dtype
    ckpt_dir = work_dir / "checkpoints"
    args = TrainingArguments(
        output_dir=str(ckpt_dir),
        learning_rate=stage_cfg.lr,
        lr_scheduler_type=stage_cfg.scheduler,
        warmup_steps=stage_cfg.warmup_ratio,
        weight_decay=stage_cfg.weight_decay,
        num_train_epochs=stage_cfg.epochs,
        max_steps=stage_cfg.max_steps,
        per_device_train_batch_size=stage_cfg.batch_size // workers,
        ddp_backend=None if workers == 1 else ("nccl" if on_gpu else "gloo"),
        gradient_accumulation_steps=stage_cfg.grad_accum,
        logging_steps=stage_cfg.logging_steps,
        logging_first_step=True,
        logging_nan_inf_filter=False,  # the default hides a NaN loss as 0; we want to see it and stop
        save_strategy="steps",
        save_steps=stage_cfg.save_steps,
        save_total_limit=1,
        activation_checkpointing=stage_cfg.activation_checkpointing,
        fsdp=sharded,
        fsdp_config=_fsdp_config(model) if sharded else None,
        activation_checkpointing_kwargs={"use_reentrant": False},  # the reentrant variant needs input grads under LoRA
        seed=seed,
        data_seed=seed,
        use_cpu=not on_gpu,
        bf16=bf16,
        report_to="none",
        remove_unused_columns=False,
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
    )
    meter = FlopMeter(partial(collate_packed, pad_token_id=tokenizer.pad_token_id,
                              pad_to_multiple_of=stage_cfg.pad_to_multiple_of),
                      Shape.of(model), recompute=stage_cfg.activation_checkpointing)
    peak = peak_tflops(torch.cuda.get_device_name() if on_gpu else None, bf16)
    watch = _Watch(stage, log_fn, meter, peak)  # after _TimedSaves: it logs at every step a checkpoint is asked for
    trainer = _Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=meter,
        processing_class=tokenizer,
        callbacks=[*([_TimedSaves(stage_cfg.save_minutes)] if stage_cfg.save_minutes > 0 else []), watch],
    )
    if not console.verbose():  # the Trainer adds one of the two, depending on transformers' log level
        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
        if is_lead():
            trainer.add_callback(_Progress(stage))
    last = last_complete_checkpoint(ckpt_dir)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - t0
    if not math.isfinite(result.training_loss):
        raise NonFiniteLossError(f"{stage}: the mean training loss is {result.training_loss}; nothing was published")
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    mean_loss = mean_logged_loss(trainer.state.log_history)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    stats = {
        "loss": mean_loss if mean_loss is not None else result.training_loss,
        "loss_start": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "steps": trainer.state.global_step,
        "rows": len(dataset),
        "label_tokens_per_epoch": sum(sum(lab != IGNORE_INDEX for lab in row) for row in dataset["labels"]),
        "tokens_seen": int(trainer.state.num_input_tokens_seen),
        "train_seconds": round(seconds, 2),
        "mean_step_s": round(sum(watch.step_times) / max(len(watch.step_times), 1), 4),
        "trainable_params": trainable,
        "bf16_autocast": bf16,
        "frozen_weights_bf16": frozen_cast,
        "resumed_from": Path(last).name if last else None,
    }
    stats["tokens_per_update"] = round(stats["tokens_seen"] / stats["steps"], 1) if stats["steps"] else None
    # throughput of this run (since its resume, if it resumed): msm/train/flops.py says what is counted
    stats.update(rates((0, 0, 0.0, 0.0), meter.snapshot(), seconds, peak), peak_tflops=peak)
    stats["health"] = assess(stats, health, stage)  # under train.strict this raises: nothing is published
    if publish_to is not None:
        _publish(trainer, model, tokenizer, publish_to, with_tokenizer)
    if is_lead():
        shutil.rmtree(ckpt_dir, ignore_errors=True)  # the published artifact is the final weights only
    return stats
