"""Sampling free-text responses from the model under test.

``hf`` generates with the trained model itself (base + adapter, already loaded), batched with left
padding: no server to run, the same code on CPU and GPU. ``openai`` asks a served model through
``msm.llm`` instead (any OpenAI-compatible server, for example vLLM serving the merged checkpoint),
which also caches responses on disk. ``vllm`` runs vLLM's offline engine on the job's own weights
(base + LoRA adapter, no merge, no server) in a child process, see :func:`sample_vllm`. Sample ``k``
of a prompt is reproducible on every path: the hf path seeds each batch from (seed, batch index), the
vllm path seeds each sample from (seed, condition, k), the served path keys its cache by ``k``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from msm.errors import MsmError
from msm.evals.vllm_worker import VLLM_MISSING  # the worker's exit code when vllm cannot be imported
from msm.jsonl import read_jsonl

SAMPLERS = ("hf", "openai", "vllm")
VLLM_WORKER = Path(__file__).with_name("vllm_worker.py")


def _chat(system: str, user: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


@torch.no_grad()
def sample_hf(model, tokenizer, prompts: Sequence[dict], n: int, *, temperature: float, max_new_tokens: int,
              batch_size: int, seed: int, bf16: bool = False) -> list[list[str]]:
    """``n`` responses for each ``{"system", "user"}`` prompt, as ``[[prompt 0 sample 0..n-1], ...]``."""
    device = next(model.parameters()).device
    tokenizer.padding_side = "left"
    flat = [(i, k) for i in range(len(prompts)) for k in range(n)]
    texts = [tokenizer.apply_chat_template(_chat(prompts[i]["system"], prompts[i]["user"]), tokenize=False,
                                           add_generation_prompt=True) for i, _ in flat]
    out: list[list[str]] = [[""] * n for _ in prompts]
    for b, start in enumerate(tqdm(range(0, len(flat), batch_size), desc="sample", unit="batch")):
        enc = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True,
                        add_special_tokens=False).to(device)
        torch.manual_seed(seed * 100_003 + b)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            gen = model.generate(**enc, do_sample=temperature > 0, temperature=temperature or None,
                                 max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, use_cache=True)
        new = gen[:, enc["input_ids"].shape[1] :]
        for (i, k), ids in zip(flat[start : start + batch_size], new):
            out[i][k] = tokenizer.decode(ids, skip_special_tokens=True)
    return out


def sample_served(client, prompts: Sequence[dict], n: int, *, temperature: float, max_new_tokens: int) -> list[list[str]]:
    """The same through an ``msm.llm`` client; a failed call yields an empty response (graded as unparsable)."""
    from msm.llm import Request

    reqs = [
        Request(messages=({"role": "user", "content": p["user"]},), system=p["system"], max_tokens=max_new_tokens,
                temperature=temperature, sample_index=k, tag="eval/sample")
        for p in prompts for k in range(n)
    ]
    responses = client.complete_many(reqs, desc="sample")
    return [[r.text if r.ok else "" for r in responses[i * n : (i + 1) * n]] for i in range(len(prompts))]


# ---- vLLM's offline engine, in a child process -----------------------------------------------------


def vllm_python(python: str | None) -> str:
    """The interpreter that runs the vLLM worker: ``eval.vllm.python``, or this one."""
    return os.path.expanduser(python) if python else sys.executable


def check_vllm(python: str | None) -> None:
    """Fail before any training when the configured interpreter cannot find vllm (cheap: no import)."""
    exe = vllm_python(python)
    try:
        found = subprocess.run([exe, "-c", "import importlib.util as u, sys; sys.exit(u.find_spec('vllm') is None)"],
                               capture_output=True, timeout=60).returncode == 0
    except OSError as e:
        raise MsmError(f"eval.vllm.python={exe!r} cannot be run: {e}") from None
    if not found:
        raise MsmError(_no_vllm(exe))


def _no_vllm(exe: str) -> str:
    return (f"eval.sampler=vllm: vllm is not installed for {exe}. vLLM pins its own torch and transformers, "
            "so give it an environment of its own (python -m venv ~/vllm-env && ~/vllm-env/bin/pip install "
            "vllm==0.33.0) and set eval.vllm.python=~/vllm-env/bin/python; or serve the model and use "
            "eval.sampler=openai")


def sample_seed(seed: int, prompt_id: str, k: int) -> int:
    """A 31-bit seed for sample ``k`` of a condition: independent of batching and of the other conditions."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{prompt_id}/{k}".encode()).digest()[:4], "big") >> 1


def stop_token_ids(tokenizer, model_dir: str) -> list[int]:
    """End-of-turn ids: the model's generation config (what ``generate`` stops on) plus the tokenizer's eos."""
    from transformers import GenerationConfig

    try:
        eos = GenerationConfig.from_pretrained(model_dir).eos_token_id
    except OSError:
        eos = None
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return sorted(set(ids))


def vllm_request(tokenizer, model: dict, prompts: Sequence[dict], n: int, *, temperature: float, max_new_tokens: int,
                 seed: int, dtype: str, engine: dict) -> dict:
    """What the worker needs, and nothing that needs msm: token ids in, token ids out.

    Prompts are rendered here with msm's tokenizer and chat template, so every sampler sees identical
    prompts, and the worker runs vLLM with ``skip_tokenizer_init``.
    """
    adapter = model.get("adapter")
    lora_rank = None
    if adapter:
        lora_rank = json.loads((Path(adapter) / "adapter_config.json").read_text())["r"]
    return {
        "model": model["base"], "adapter": adapter, "lora_rank": lora_rank, "dtype": dtype, "seed": seed,
        "engine": {k: v for k, v in engine.items() if k != "python" and v is not None},
        "temperature": temperature, "max_new_tokens": max_new_tokens,
        "stop_token_ids": stop_token_ids(tokenizer, model["base"]),
        "prompts": [tokenizer(tokenizer.apply_chat_template(_chat(p["system"], p["user"]), tokenize=False,
                                                            add_generation_prompt=True),
                              add_special_tokens=False)["input_ids"] for p in prompts],
        "samples": [[i, sample_seed(seed, p["id"], k)] for i, p in enumerate(prompts) for k in range(n)],
    }


def vllm_files(work: Path, req: dict) -> tuple[Path, Path]:
    """The request and responses files of a request, named by its digest (a changed request resamples)."""
    digest = hashlib.sha256(json.dumps(req, sort_keys=True).encode()).hexdigest()[:16]
    return work / f"request-{digest}.json", work / f"responses-{digest}.jsonl"


def sample_vllm(tokenizer, model: dict, prompts: Sequence[dict], n: int, *, temperature: float, max_new_tokens: int,
                seed: int, work: Path, dtype: str = "auto", engine: dict | None = None) -> list[list[str]]:
    """``n`` responses per prompt from vLLM's offline engine, run by ``eval.vllm.python`` as a child process.

    A child process because vLLM pins torch and transformers versions that differ from msm's, so it
    usually lives in an environment of its own, and because its GPU memory is then freed when it exits.
    The request and the responses are files in ``work`` named by the request's digest: a job that dies
    after sampling (while judging, say) reuses the responses on its rerun.
    """
    engine = dict(engine or {})
    req = vllm_request(tokenizer, model, prompts, n, temperature=temperature, max_new_tokens=max_new_tokens,
                       seed=seed, dtype=dtype, engine=engine)
    req_path, out_path = vllm_files(work, req)
    if not out_path.exists():
        work.mkdir(parents=True, exist_ok=True)
        req_path.write_text(json.dumps(req, sort_keys=True))
        exe = vllm_python(engine.get("python"))
        if torch.cuda.is_available():  # hand the GPU memory this process cached while training to the engine
            gc.collect()
            torch.cuda.empty_cache()
        rc = subprocess.run([exe, str(VLLM_WORKER), str(req_path), str(out_path)]).returncode
        if rc == VLLM_MISSING:
            raise MsmError(_no_vllm(exe))
        if rc != 0 or not out_path.exists():
            raise MsmError(f"the vLLM worker ({exe} {VLLM_WORKER.name}) exited with code {rc}; its output is above")
    outs = read_jsonl(out_path)
    if len(outs) != len(req["samples"]):
        raise MsmError(f"{out_path} holds {len(outs)} responses for {len(req['samples'])} samples; delete it to resample")
    texts: list[list[str]] = [[] for _ in prompts]
    for (i, _), o in zip(req["samples"], outs):
        texts[i].append(tokenizer.decode(o["token_ids"], skip_special_tokens=True))
    return texts
