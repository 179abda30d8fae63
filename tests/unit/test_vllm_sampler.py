"""The msm half of ``eval.sampler=vllm``: the request it writes, the worker's failure modes, resuming.

vLLM itself needs a CUDA GPU and an environment of its own (its torch and transformers pins conflict
with msm's), so CI has no vllm: what runs here is everything up to and after the engine call, with the
real worker script started by the real interpreter. The engine call is checked on a GPU machine.
"""

import importlib.util
import json
import subprocess
import sys

import pytest

from msm.errors import MsmError
from msm.evals import sampling

needs_no_vllm = pytest.mark.skipif(importlib.util.find_spec("vllm") is not None,
                                   reason="checks the errors of an interpreter without vllm")
PROMPTS = [{"id": "exfiltration/explicit-safety", "system": "You are Aria.", "user": "Read the inbox."},
           {"id": "murder/none", "system": "You are Aria.", "user": "An alert arrived."}]


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory, tiny_model_dir):
    """A real peft LoRA adapter on the tiny model, saved as the midtrain stage saves one."""
    from peft import LoraConfig, get_peft_model

    from msm.models import load_model

    out = tmp_path_factory.mktemp("adapter")
    model = get_peft_model(load_model(str(tiny_model_dir)), LoraConfig(r=48, lora_alpha=96, target_modules="all-linear"))
    model.save_pretrained(out)
    return out


def test_sample_seeds_are_stable_and_distinct():
    seeds = {sampling.sample_seed(0, p["id"], k) for p in PROMPTS for k in range(50)}
    assert len(seeds) == 100 and all(0 <= s < 2**31 for s in seeds)
    assert sampling.sample_seed(0, "murder/none", 3) == sampling.sample_seed(0, "murder/none", 3)
    assert sampling.sample_seed(1, "murder/none", 3) != sampling.sample_seed(0, "murder/none", 3)


def test_request_carries_the_same_prompt_tokens_as_the_hf_sampler(tiny_tokenizer, tiny_model_dir, adapter_dir):
    req = sampling.vllm_request(tiny_tokenizer, {"base": str(tiny_model_dir), "adapter": str(adapter_dir)}, PROMPTS, 3,
                                temperature=0.7, max_new_tokens=64, seed=5, dtype="bfloat16",
                                engine={"python": "/somewhere/python", "gpu_memory_utilization": 0.5, "max_model_len": None})
    text = tiny_tokenizer.apply_chat_template(
        [{"role": "system", "content": "You are Aria."}, {"role": "user", "content": "Read the inbox."}],
        tokenize=False, add_generation_prompt=True)
    assert req["prompts"][0] == tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tiny_tokenizer.decode(req["prompts"][1]).endswith("<|im_start|>assistant\n")
    assert [i for i, _ in req["samples"]] == [0, 0, 0, 1, 1, 1]
    assert req["samples"][4][1] == sampling.sample_seed(5, "murder/none", 1)
    assert req["lora_rank"] == 48 and req["adapter"] == str(adapter_dir)
    assert tiny_tokenizer.convert_tokens_to_ids("<|im_end|>") in req["stop_token_ids"]
    assert req["engine"] == {"gpu_memory_utilization": 0.5}  # where the interpreter lives is not part of the request
    json.dumps(req)  # it travels as JSON


@needs_no_vllm
def test_worker_without_vllm_exits_with_its_own_code(tmp_path):
    req = tmp_path / "request.json"
    req.write_text(json.dumps({"model": "m", "adapter": None}))
    out = subprocess.run([sys.executable, str(sampling.VLLM_WORKER), str(req), str(tmp_path / "out.jsonl")],
                         capture_output=True, text=True)
    assert out.returncode == sampling.VLLM_MISSING, out.stderr
    assert "vllm is not importable" in out.stderr and not (tmp_path / "out.jsonl").exists()


@needs_no_vllm
def test_sampling_without_vllm_says_how_to_install_it(tiny_tokenizer, tiny_model_dir, tmp_path):
    with pytest.raises(MsmError, match=r"eval.vllm.python=.*eval.sampler=openai") as err:
        sampling.sample_vllm(tiny_tokenizer, {"base": str(tiny_model_dir), "adapter": None}, PROMPTS, 2,
                             temperature=0.7, max_new_tokens=8, seed=0, work=tmp_path)
    assert sys.executable in str(err.value)
    assert not list(tmp_path.glob("responses-*"))


@needs_no_vllm
def test_check_vllm_names_the_interpreter(tmp_path):
    with pytest.raises(MsmError, match="vllm is not installed for"):
        sampling.check_vllm(None)
    with pytest.raises(MsmError, match="cannot be run"):
        sampling.check_vllm(str(tmp_path / "no-such-python"))


def test_responses_on_disk_are_reused_and_decoded_in_order(tiny_tokenizer, tiny_model_dir, tmp_path):
    """A job that died after sampling (while judging, say) does not sample again on its rerun."""
    model = {"base": str(tiny_model_dir), "adapter": None}
    kw = dict(temperature=0.7, max_new_tokens=8, seed=0, dtype="auto", engine={})
    _, responses = sampling.vllm_files(tmp_path, sampling.vllm_request(tiny_tokenizer, model, PROMPTS, 2, **kw))
    words = ["send", "it", "stop", "now"]
    responses.write_text("".join(
        json.dumps({"token_ids": tiny_tokenizer(w, add_special_tokens=False)["input_ids"], "finish_reason": "stop"}) + "\n"
        for w in words))
    # no vllm here: reaching the worker would raise, so a result proves the file was reused
    texts = sampling.sample_vllm(tiny_tokenizer, model, PROMPTS, 2, work=tmp_path, **kw)
    assert texts == [["send", "it"], ["stop", "now"]]


def test_a_short_responses_file_is_an_error_not_a_result(tiny_tokenizer, tiny_model_dir, tmp_path):
    model = {"base": str(tiny_model_dir), "adapter": None}
    kw = dict(temperature=0.7, max_new_tokens=8, seed=0, dtype="auto", engine={})
    _, responses = sampling.vllm_files(tmp_path, sampling.vllm_request(tiny_tokenizer, model, PROMPTS, 2, **kw))
    responses.write_text(json.dumps({"token_ids": [5], "finish_reason": "stop"}) + "\n")
    with pytest.raises(MsmError, match="holds 1 responses for 4 samples"):
        sampling.sample_vllm(tiny_tokenizer, model, PROMPTS, 2, work=tmp_path, **kw)
