"""Sample with vLLM's offline engine: ``PYTHON vllm_worker.py REQUEST.json RESPONSES.jsonl``.

Started by :func:`msm.evals.sampling.sample_vllm` with the interpreter named by ``eval.vllm.python``.
It imports the standard library and vllm only, never msm: vLLM pins its own torch and transformers
(vllm 0.33: torch 2.14, transformers < 5.21), which conflict with msm's pins, so it usually runs in an
environment of its own. Prompts arrive as token ids and responses leave as token ids, so the worker
needs no tokenizer and every sampler sees the same prompts. The responses file appears only complete
(written aside, then renamed), one JSON line per sample in request order. msm imports this module
only for ``VLLM_MISSING``, which is why nothing but the standard library is imported at the top.
"""

import json
import os
import sys

VLLM_MISSING = 3
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the values vLLM accepts for max_lora_rank


def main(request_path: str, out_path: str) -> int:
    with open(request_path) as f:
        req = json.load(f)
    try:
        from vllm import LLM, SamplingParams
        from vllm.lora.request import LoRARequest
    except ImportError as e:
        print(f"vllm is not importable by {sys.executable}: {e}", file=sys.stderr)
        return VLLM_MISSING

    engine = {"model": req["model"], "dtype": req["dtype"], "seed": req["seed"], "skip_tokenizer_init": True,
              **req["engine"]}
    lora = None
    if req["adapter"]:
        # One adapter per job (AFT continues the MSM adapter), applied unmerged as vLLM's LoRA.
        rank = next((r for r in LORA_RANKS if r >= req["lora_rank"]), req["lora_rank"])
        engine.update(enable_lora=True, max_lora_rank=rank, max_loras=1)
        lora = LoRARequest(lora_name="msm", lora_int_id=1, lora_path=req["adapter"])
    llm = LLM(**engine)
    prompts = [{"prompt_token_ids": req["prompts"][i]} for i, _ in req["samples"]]
    params = [SamplingParams(n=1, temperature=req["temperature"], max_tokens=req["max_new_tokens"], seed=seed,
                             stop_token_ids=req["stop_token_ids"], detokenize=False)
              for _, seed in req["samples"]]
    outputs = llm.generate(prompts, params, lora_request=lora, use_tqdm=True)

    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        for out in outputs:
            done = out.outputs[0]
            f.write(json.dumps({"token_ids": list(done.token_ids), "finish_reason": done.finish_reason}) + "\n")
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {os.path.basename(sys.argv[0])} REQUEST.json RESPONSES.jsonl")
    sys.exit(main(sys.argv[1], sys.argv[2]))
