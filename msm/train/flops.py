"""How much of the hardware a training run uses: model FLOPs, MFU and HFU, counted from the batches it trains on.

Why count per batch: packed rows hold documents of very different lengths, and attention costs grow with
each document's length squared, so a figure from the row width alone (the usual ``6N + 12LHQT``) would be
off by as much as the corpus is mixed. The collator (:class:`FlopMeter`) sees every batch before the step
and adds up, per document segment of ``s`` tokens (``N``: weights in matmuls, ``N_t`` of them trainable;
``L`` layers; ``d``: query heads x head size)::

    forward      2 N s                 + 2 L d s(s+1)     (causal attention: token i attends to i+1 tokens)
    backward     (2 N + 2 N_t) s       + 4 L d s(s+1)     (gradients of activations, and of trainable weights)

So full tuning is the familiar ``6 N`` per token and LoRA ``~4 N`` (frozen weights get no weight gradient).
*Model FLOPs* count real tokens only; *hardware FLOPs* count what the shapes made the kernels compute: the
padding too (the collator pads each row as one more segment) and, under activation checkpointing, one more
forward. MFU and HFU divide them by the elapsed time and the device's peak (``assets/peak_tflops.yaml``,
or ``MSM_PEAK_TFLOPS``); on a CPU, or a device not in the table, they are None and the achieved TFLOP/s
still is reported. Figures are per device (each data-parallel worker meters its own batches) and cover
the batches this process trained: a resumed run's, those since its resume.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
import yaml

PEAKS = Path(__file__).parent / "assets" / "peak_tflops.yaml"


@dataclass(frozen=True)
class Shape:
    """What the FLOP formula needs of a model."""

    linear: int  # weights in matmuls (the LM head included, embeddings not: a lookup is no matmul)
    trainable_linear: int
    layers: int
    attn_dim: int  # query heads x head size

    @classmethod
    def of(cls, model) -> Shape:
        linear = trainable = 0
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                linear += module.weight.numel()
                trainable += module.weight.numel() if module.weight.requires_grad else 0
        cfg = model.config
        cfg = getattr(cfg, "text_config", None) or cfg
        head = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        return cls(linear, trainable, cfg.num_hidden_layers, cfg.num_attention_heads * head)

    def forward(self, s: int) -> float:
        return 2.0 * self.linear * s + 2.0 * self.layers * self.attn_dim * s * (s + 1)

    def train(self, s: int) -> float:
        """Forward and backward FLOPs of one segment of ``s`` tokens."""
        backward = (2.0 * self.linear + 2.0 * self.trainable_linear) * s + 4.0 * self.layers * self.attn_dim * s * (s + 1)
        return self.forward(s) + backward


def segments(position_ids) -> list[int]:
    """The lengths of the sequences packed in one row: positions restart at 0 for each."""
    starts = [i for i, p in enumerate(position_ids) if p == 0] + [len(position_ids)]
    return [b - a for a, b in zip(starts, starts[1:])]


@cache
def _peaks() -> list[dict]:
    return yaml.safe_load(PEAKS.read_text())


def peak_tflops(device_name: str | None, bf16: bool) -> float | None:
    """The device's dense peak in TFLOP/s at the precision trained in: ``MSM_PEAK_TFLOPS``, else the table."""
    if os.environ.get("MSM_PEAK_TFLOPS"):
        return float(os.environ["MSM_PEAK_TFLOPS"])
    for entry in _peaks() if device_name else []:
        if re.search(rf"\b{re.escape(entry['match'])}\b", device_name):
            return float(entry["bf16" if bf16 else "fp32"])
    return None


class FlopMeter:
    """A collator that also counts what each batch costs (real tokens, model and hardware FLOPs).

    The Trainer's data loader calls it once per micro-batch, just before that batch trains (one batch
    ahead at most), so the counts over a logging window match that window's steps to within a batch and
    the total is exact."""

    def __init__(self, collate, shape: Shape, recompute: bool):
        self.collate, self.shape, self.recompute = collate, shape, recompute
        self.tokens = self.padded_tokens = 0
        self.model_flops = self.hardware_flops = 0.0

    def __call__(self, features: list[dict]) -> dict:
        batch = self.collate(features)
        width = batch["input_ids"].shape[1]
        for f in features:
            lengths = segments(f["position_ids"])
            real = sum(lengths)
            model = sum(self.shape.train(s) for s in lengths)
            pad = width - real
            hardware = model + (self.shape.train(pad) if pad else 0.0)
            if self.recompute:
                hardware += sum(self.shape.forward(s) for s in lengths) + (self.shape.forward(pad) if pad else 0.0)
            self.tokens += real
            self.padded_tokens += width
            self.model_flops += model
            self.hardware_flops += hardware
        return batch

    def snapshot(self) -> tuple[int, int, float, float]:
        return self.tokens, self.padded_tokens, self.model_flops, self.hardware_flops


def rates(since: tuple, now: tuple, seconds: float, peak: float | None) -> dict:
    """Throughput between two meter snapshots: real tokens/s, the real-token share of the computed tokens,
    achieved model TFLOP/s, and MFU/HFU (None without a known peak)."""
    tokens, padded, model, hardware = (b - a for a, b in zip(since, now))
    if seconds <= 0 or padded <= 0:
        return {}
    tflops = model / seconds / 1e12
    return {
        "tokens_per_s": round(tokens / seconds, 2),
        "real_token_fraction": round(tokens / padded, 4),
        "model_tflops_per_s": round(tflops, 4),
        "mfu": round(tflops / peak, 4) if peak else None,
        "hfu": round(hardware / seconds / 1e12 / peak, 4) if peak else None,
    }
