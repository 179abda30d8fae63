"""Checkpoints a researcher brings: a PEFT LoRA adapter or a whole model folder, standing in for a stage.

The authors of a paper release adapters and checkpoints; reproductions start from them. msm takes one as the
output of midtraining (``midtrain=adapter midtrain.adapter=<folder or hub id>``) or of AFT (``aft=adapter``):
the stage's artifact is the checkpoint, keyed by its content, so AFT continues an imported MSM adapter exactly
as it continues one msm trained, and an eval reads an imported model as it reads its own.

What is checked before any stage runs (:func:`base_problem`): an adapter's every LoRA weight must fit a linear
layer of the job's base model, shape for shape. The base is built on the ``meta`` device from its config
alone (no weights), so the check costs a second even for a 32B model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from msm.errors import MsmError

ADAPTER_CONFIG = "adapter_config.json"
VERSION = 1  # of what a brought checkpoint's artifact holds (copy_checkpoint)
_LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[^.]+)?\.weight$")


def copy_checkpoint(src: Path, dst: Path) -> None:
    """``src`` (a checkpoint folder) into ``dst``, file by file: hard links where the filesystem allows (a
    model folder is tens of GB, and a hard link shares its bytes), copies elsewhere. Dot-files are left out,
    as the content digest leaves them out."""
    import os
    import shutil

    for file in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = file.relative_to(src)
        if any(part.startswith(".") for part in rel.parts):
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)  # a resumed build finds what its last attempt left
        try:
            os.link(file.resolve(), target)
        except OSError:
            shutil.copy2(file, target)


def adapter_base_name(folder: Path) -> str:
    """The base model an adapter says it was trained on (``base_model_name_or_path``), or ``?``."""
    try:
        return json.loads((Path(folder) / ADAPTER_CONFIG).read_text()).get("base_model_name_or_path") or "?"
    except (OSError, ValueError):
        return "?"


def adapter_shapes(folder: Path) -> dict[str, tuple[int, int]]:
    """``{module: (in_features, out_features)}`` that an adapter's LoRA weights require, read from the weight
    files' headers (lora_A is r x in, lora_B is out x r); nothing is loaded."""
    folder = Path(folder)
    shapes: dict[str, dict[str, list[int]]] = {}
    files = sorted(folder.glob("*.safetensors"))
    if files:
        from safetensors import safe_open

        for file in files:
            with safe_open(str(file), framework="pt") as f:
                for key in f.keys():
                    if m := _LORA_KEY.match(key):
                        shapes.setdefault(m.group("module"), {})[m.group("ab")] = list(f.get_slice(key).get_shape())
    else:
        import torch

        for file in sorted(folder.glob("adapter_model*.bin")):
            for key, tensor in torch.load(file, map_location="meta", weights_only=True).items():
                if m := _LORA_KEY.match(key):
                    shapes.setdefault(m.group("module"), {})[m.group("ab")] = list(tensor.shape)
    if not shapes:
        raise MsmError(f"{folder}: holds no LoRA weights (adapter_model.safetensors or adapter_model.bin)")
    return {module: (ab["A"][1], ab["B"][0]) for module, ab in shapes.items() if "A" in ab and "B" in ab}


def linear_shapes(config) -> dict[str, tuple[int, int]]:
    """``{module: (in_features, out_features)}`` of every linear layer of a model built from ``config`` on the
    meta device (no memory, no weights)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return {name: (m.in_features, m.out_features) for name, m in model.named_modules()
            if isinstance(m, torch.nn.Linear)}


def base_problem(adapter: Path, config, base_name: str, field: str) -> str | None:
    """Why the LoRA adapter in ``adapter`` cannot sit on the base model of ``config`` (named ``base_name`` in
    the message), or None: every adapted module must exist in the base with the shapes the adapter needs."""
    base = linear_shapes(config)
    for module, (d_in, d_out) in sorted(adapter_shapes(adapter).items()):
        if module not in base:
            return (f"{field}={adapter} was trained on {adapter_base_name(adapter)}: it adapts {module}, which "
                    f"model={base_name} does not have; set model= to the adapter's base")
        if base[module] != (d_in, d_out):
            b_in, b_out = base[module]
            return (f"{field}={adapter} was trained on {adapter_base_name(adapter)} ({module}: {d_in} -> {d_out}), "
                    f"not on model={base_name} ({b_in} -> {b_out}); set model= to the adapter's base")
    return None
