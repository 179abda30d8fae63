"""Loading models and tokenizers, for every layer that runs one (training, evals, the local LLM backend).

Nothing here builds or downloads a model: :mod:`msm.train.base_models` makes the base models that do
not come from a hub (the tiny random one, the converted SmolLM2), and whoever owns a folder (the
artifact store) decides where it lives. ``hub`` sources need ``HF_HUB_OFFLINE=0`` or a local copy.

Chat templates: :func:`load_tokenizer` keeps the tokenizer's own template unless ``chat_template`` names
a file in ``msm/chat_templates/`` (``chatml``, ``llama3``) or a ``.jinja`` path. Those templates render
message content verbatim, so loss masking can work on character offsets of the rendered text. A named
template's text is part of the key of every artifact rendered with it (:func:`chat_template_digest`).
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

import torch

from msm.errors import MsmError

CHAT_TEMPLATE_DIR = Path(__file__).parent / "chat_templates"


def available_chat_templates() -> list[str]:
    """Names accepted by ``load_tokenizer(chat_template=...)``: the files in ``chat_templates/``."""
    return sorted(p.stem for p in CHAT_TEMPLATE_DIR.glob("*.jinja"))


def read_chat_template(name: str | Path) -> str:
    """The Jinja source of a named template (``chatml``, ``llama3``) or of a ``.jinja`` file path."""
    candidate = CHAT_TEMPLATE_DIR / f"{name}.jinja"
    if isinstance(name, str) and "/" not in name and candidate.is_file():
        return candidate.read_text()
    path = Path(name)
    if path.suffix == ".jinja" and path.is_file():
        return path.read_text()
    raise MsmError(
        f"unknown chat template {str(name)!r}: use one of {available_chat_templates()} "
        f"(files in {CHAT_TEMPLATE_DIR}), a path to a .jinja file, or null for the tokenizer's own"
    )


def chat_template_digest(name: str | Path | None) -> str | None:
    """sha256 of the template a name resolves to (None: the tokenizer's own, which its model folder holds)."""
    return hashlib.sha256(read_chat_template(name).encode()).hexdigest()[:16] if name else None


def load_tokenizer(name_or_path: str | Path, chat_template: str | None = None):
    """``AutoTokenizer`` with a chat template and a pad token guaranteed.

    ``chat_template``: None keeps the tokenizer's own; a name (``chatml``, ``llama3``; see
    :func:`available_chat_templates`) or a path to a ``.jinja`` file replaces it. Pad falls back to eos.
    Raises ``MsmError`` when the tokenizer has no template and none is given.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
    if chat_template:
        tokenizer.chat_template = read_chat_template(chat_template)
    elif not getattr(tokenizer, "chat_template", None):
        raise MsmError(
            f"tokenizer {str(name_or_path)!r} has no chat template: set model.chat_template to one of "
            f"{available_chat_templates()}"
        )
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise MsmError(f"tokenizer {str(name_or_path)!r} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def default_device() -> str:
    """``cuda`` (``cuda:$LOCAL_RANK`` under torchrun/accelerate) if available, else ``cpu``."""
    if not torch.cuda.is_available():
        return "cpu"
    local_rank = os.environ.get("LOCAL_RANK")
    return f"cuda:{int(local_rank)}" if local_rank not in (None, "") else "cuda"


def resolve_dtype(name: str, device: str | None = None) -> torch.dtype:
    """``float32`` | ``bfloat16`` | ``float16`` | ``auto``.

    ``auto`` = bfloat16 on a CUDA device that supports it, else float32. ``device`` (optional) is the
    device the model will run on; without it, ``auto`` looks at whether CUDA is available.
    """
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    key = str(name).lower()
    if key == "auto":
        on_cuda = torch.cuda.is_available() and (device is None or str(device).startswith("cuda"))
        return torch.bfloat16 if on_cuda and torch.cuda.is_bf16_supported() else torch.float32
    if key not in table:
        raise MsmError(f"unknown model.dtype {name!r}: use float32, bfloat16, float16 or auto")
    return table[key]


def use_bf16_autocast(precision: str, model) -> bool:
    """Whether to run a float32 model under bf16 autocast (mixed precision).

    ``auto`` says yes where the hardware computes bf16 natively: a CUDA device that supports it, or a
    CPU with bf16 instructions (avx512_bf16 / AMX; there, SmolLM2-135M trains and scores about twice
    as fast). Weights already in bf16 need no autocast.
    """
    if precision not in ("auto", "bf16", "fp32"):
        raise MsmError(f"unknown precision {precision!r}: use auto, bf16 or fp32")
    if precision == "fp32" or next(model.parameters()).dtype != torch.float32:
        return False
    if precision == "bf16":
        return True
    if next(model.parameters()).device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def load_model(
    name_or_path: str | Path,
    *,
    dtype: str = "auto",
    adapter: str | Path | None = None,
    trainable_adapter: bool = False,
    device: str | None = None,
):
    """``AutoModelForCausalLM`` (sdpa attention) on ``device`` (default: :func:`default_device`).

    With ``adapter`` (a folder saved by peft), wraps it in ``PeftModel``; the adapter's weights are
    trainable only if ``trainable_adapter`` (the base weights are frozen either way). Without an adapter
    every parameter is trainable; callers freeze what they need. Returned in eval mode unless an adapter
    is loaded trainable.

    Sets ``config.use_cache = False``: in transformers 5 a forward pass with a KV cache (the default when
    ``config.use_cache`` is true, in train mode too) skips the packed-sequence detection, so rows that pack
    several documents with restarting ``position_ids`` and ``attention_mask=None`` would silently attend
    across documents. ``generate`` is unaffected (it makes its own cache from ``generation_config``).
    """
    from transformers import AutoModelForCausalLM

    device = device or default_device()
    torch_dtype = resolve_dtype(dtype, device)
    with _naming(name_or_path, "model"):
        model = AutoModelForCausalLM.from_pretrained(
            str(name_or_path), dtype=torch_dtype, attn_implementation="sdpa", device_map={"": device}
        )
    model.config.use_cache = False
    if adapter is not None:
        from peft import PeftModel

        with _naming(adapter, "LoRA adapter"):
            model = PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable_adapter)
        model.train(trainable_adapter)
    else:
        model.eval()
    return model


@contextmanager
def _naming(where, what: str):
    """A weights file that cannot be read (truncated, garbled: ``invalid header length``, a JSON error) fails
    naming the folder it came from, not only the library's words for what went wrong."""
    try:
        yield
    except MemoryError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise MsmError(f"{where}: cannot load the {what} ({type(e).__name__}: {str(e)[:300]})") from e
    except Exception as e:  # safetensors' SafetensorError, and the like
        if type(e).__module__.startswith(("safetensors", "json")):
            raise MsmError(f"{where}: cannot load the {what} ({type(e).__name__}: {str(e)[:300]})") from e
        raise


def cast_frozen_linears(model, dtype: torch.dtype) -> int:
    """Store the frozen weights of every linear layer in ``dtype`` (the autocast compute dtype); returns
    how many were cast.

    Under bf16 autocast a LoRA run's frozen fp32 base weights are re-cast to bf16 in every forward (and
    again when checkpointed activations are recomputed); a profile of one CPU step put 24% of its time in
    copies and casts. Stored in bf16 once, they are used as they are; autocast would have computed with
    exactly these values, so the loss and gradients do not change (tests/unit/test_models.py). Measured
    2026-12-04 on 2 CPU cores with AMX it made training neither faster nor smaller (bench/README.md); on a
    GPU, where each re-cast is a memory-bound kernel, it is not measured (as of 2026-12-07). Weights shared
    with an embedding (a tied ``lm_head``) stay as they are: the embedding's output starts the residual
    stream, which must stay fp32.
    Trainable weights (the adapter, or everything under full tuning) are never touched.
    """
    shared = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    cast = 0
    for module in model.modules():
        if not isinstance(module, torch.nn.Linear) or id(module.weight) in shared:
            continue
        for p in (module.weight, module.bias):
            if p is not None and not p.requires_grad and p.dtype != dtype:
                p.data = p.data.to(dtype)
                cast += 1
    return cast


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts; tied weights are counted once."""
    seen: set[int] = set()
    trainable = total = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total
