"""The two training recipes (MSM and AFT), each a function from (model reference, data) to a folder of weights.

A model reference is ``{"base": <folder or hub id>, "adapter": <folder or None>}``: a LoRA stage
publishes only its adapter and points at the base it sits on, so four seeds of a 32B model cost
four small adapters, not four copies of the model. ``msm.stages`` turns published folders into
references; these functions never look inside the store.

Each recipe's ``*_VERSION``, the training loop's ``loop.VERSION`` and the versions of the transforms in
``*_TRANSFORMS`` are part of the stage's artifact key (``msm.stages.models``): bump the one whose
output changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from datasets import Dataset

from msm.config import HealthConfig, ModelConfig, Packing, TrainStage
from msm.data.transforms import (
    chunk_documents,
    collate_packed,
    has_labels,
    pack_sequences,
    pack_split,
    tokenize_chat,
    tokenize_document,
)
from msm.errors import EmptyDatasetError
from msm.job import aft_trains
from msm.jsonl import read_jsonl
from msm.models import load_model, load_tokenizer
from msm.train import loop

MIDTRAIN_VERSION = 1
AFT_VERSION = 1
MIDTRAIN_TRANSFORMS = (tokenize_document, chunk_documents, pack_sequences, pack_split, collate_packed)
AFT_TRANSFORMS = (tokenize_chat, has_labels, pack_sequences, collate_packed)


def _max_len(stage_cfg, model_cfg) -> int:
    return stage_cfg.max_seq_len or model_cfg.max_seq_len


def document_rows(docs: list[dict], tokenizer, max_len: int, packing: Packing = Packing.whole) -> Dataset:
    """MSM's training rows: each document tokenized with EOS, then packed whole (cut into pieces of at most
    ``max_len`` tokens first) or split across rows (``packing``; ``bench/packing.py`` and the preset-health
    test pack exactly what training packs)."""
    tokens = Dataset.from_list([{"text": d["text"]} for d in docs]).map(
        tokenize_document, fn_kwargs={"tokenizer": tokenizer}, remove_columns=["text"], desc="tokenize documents")
    if packing == Packing.split:
        return tokens.map(pack_split, fn_kwargs={"max_len": max_len}, batched=True, batch_size=None, desc="pack")
    return (
        tokens.map(chunk_documents, fn_kwargs={"max_len": max_len}, batched=True, desc="chunk")
        .map(pack_sequences, fn_kwargs={"max_len": max_len}, batched=True, batch_size=None, desc="pack")
    )


def chat_rows(rows: list[dict], tokenizer, max_len: int) -> tuple[Dataset, int]:
    """AFT's training rows (labels on assistant tokens only), packed, and how many chats were truncated."""
    data = Dataset.from_list([{"messages": r["messages"]} for r in rows]).map(
        tokenize_chat, fn_kwargs={"tokenizer": tokenizer, "max_len": max_len}, remove_columns=["messages"],
        desc="tokenize chats",
    )
    truncated = sum(data["truncated"])
    data = (
        data.filter(has_labels)
        .remove_columns(["truncated"])
        .map(pack_sequences, fn_kwargs={"max_len": max_len}, batched=True, batch_size=None, desc="pack")
    )
    return data, truncated


def weights_folder(method: str) -> str:
    """Where a stage's weights go in its folder: the adapter alone for LoRA, the whole model (with its
    tokenizer) for full tuning. The stage declares it as what it publishes (msm/stages/models.py)."""
    return "adapter" if method == "lora" else "model"


def midtrain(work_dir: Path, ref: dict, documents_file: Path, stage_cfg: TrainStage, model_cfg: ModelConfig, seed: int,
             log_fn: Callable[[dict], None], health: HealthConfig | None = None) -> dict:
    """MSM: next-token loss on every token of the spec documents, packed without cross-document attention."""
    docs = read_jsonl(documents_file)  # the dose (midtrain.max_documents, max_tokens) is taken by the stage
    if not docs:
        raise EmptyDatasetError(f"midtrain: {documents_file} holds no documents")
    tokenizer = load_tokenizer(ref["base"], model_cfg.chat_template)
    data = document_rows(docs, tokenizer, _max_len(stage_cfg, model_cfg), Packing(stage_cfg.packing))
    loop.check_planned(len(data), stage_cfg, health or HealthConfig(), "midtrain")
    model = load_model(ref["base"], dtype=model_cfg.dtype, adapter=ref["adapter"], trainable_adapter=True)
    model = loop.add_trainable_weights(model, stage_cfg.method, stage_cfg.lora, has_adapter=ref["adapter"] is not None,
                                       seed=seed)
    sub = weights_folder(stage_cfg.method)
    stats = loop.train(model, tokenizer, data, stage_cfg, work_dir, seed, "midtrain", log_fn, health,
                       publish_to=work_dir / sub, with_tokenizer=sub == "model")
    return {**stats, "documents": len(docs), "saved": sub}


def aft(work_dir: Path, ref: dict, rows_file: Path, stage_cfg: TrainStage, model_cfg: ModelConfig, seed: int,
        log_fn: Callable[[dict], None], health: HealthConfig | None = None) -> dict:
    """AFT: SFT on demonstrations with loss on assistant tokens only; continues an MSM adapter if given."""
    rows = read_jsonl(rows_file)
    if not rows:
        raise EmptyDatasetError(f"aft: {rows_file} holds no demonstrations")
    tokenizer = load_tokenizer(ref["base"], model_cfg.chat_template)
    data, truncated = chat_rows(rows, tokenizer, _max_len(stage_cfg, model_cfg))
    loop.check_planned(len(data), stage_cfg, health or HealthConfig(), "aft")
    method = aft_trains(stage_cfg.method, ref["adapter"] is not None)
    model = load_model(ref["base"], dtype=model_cfg.dtype, adapter=ref["adapter"], trainable_adapter=True)
    model = loop.add_trainable_weights(model, method, stage_cfg.lora, has_adapter=ref["adapter"] is not None, seed=seed)
    sub = weights_folder(method)
    stats = loop.train(model, tokenizer, data, stage_cfg, work_dir, seed, "aft", log_fn, health,
                       publish_to=work_dir / sub, with_tokenizer=sub == "model")
    return {**stats, "rows": len(rows), "truncated": truncated, "saved": sub}
