"""The FLOP meter behind MFU/HFU: its counts against torch's own FLOP counter, on the real tiny model."""

import torch
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

from msm.data.transforms import collate_packed, pack_sequences
from msm.train.flops import FlopMeter, Shape, peak_tflops, rates, segments
from msm.train.loop import add_trainable_weights

LORA = OmegaConf.create({"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]})


def _eager(tiny_model_dir):
    """Eager attention: plain matmuls, which torch's counter sees (it does not count every fused kernel)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32, attn_implementation="eager")


def test_segments_are_the_runs_between_position_restarts():
    assert segments([0, 1, 2, 0, 1, 0]) == [3, 2, 1]


def test_forward_and_backward_flops_match_torchs_counter(tiny_model_dir):
    """torch counts every matmul, attention's over the full (non-causal) square; the meter counts causal
    attention, s(s+1)/2 scores instead of s*s. With that difference stated, full tuning agrees exactly (6N per
    token). Under LoRA the meter counts every layer's input gradients, where autograd skips those of the
    first layer's attention (nothing below it trains): the difference is exactly that work."""
    s = 24
    ids = torch.randint(3, 1000, (1, s))
    for method in ("full", "lora"):
        model = add_trainable_weights(_eager(tiny_model_dir), method, LORA, has_adapter=False, seed=0)
        shape = Shape.of(model)
        with FlopCounterMode(display=False) as forward:
            with torch.no_grad():
                model(input_ids=ids)
        with FlopCounterMode(display=False) as both:
            model(input_ids=ids, labels=ids).loss.backward()
        square = 4 * shape.layers * shape.attn_dim * s * s  # QK^T and AV over all s x s pairs, forward
        causal = 2 * shape.layers * shape.attn_dim * s * (s + 1)
        assert forward.get_total_flops() == shape.forward(s) - causal + square
        skipped = 0
        if method == "lora":  # layer 0: no gradient into q/k/v's input (nor lora_A's), none for its keys
            first = [m.weight.numel() for n, m in model.named_modules() if ".layers.0.self_attn." in n
                     and isinstance(m, torch.nn.Linear) and not n.endswith(("o_proj", "lora_B.default"))]
            skipped = 2 * s * sum(first) + 2 * s * s * shape.attn_dim
        assert both.get_total_flops() == shape.train(s) - 3 * causal + 3 * square - skipped, method
        assert (shape.trainable_linear == shape.linear) == (method == "full")


def test_the_meter_counts_real_tokens_padding_and_recomputation(tiny_model_dir):
    shape = Shape.of(_eager(tiny_model_dir))
    seqs = [[5] * n for n in (10, 7, 3, 12)]
    rows = pack_sequences({"input_ids": seqs, "labels": seqs}, max_len=16)  # [12+3], [10], [7]
    features = [{k: rows[k][i] for k in rows} for i in range(len(rows["input_ids"]))]
    plain = FlopMeter(lambda f: collate_packed(f, pad_token_id=0, pad_to_multiple_of=8), shape, recompute=False)
    again = FlopMeter(lambda f: collate_packed(f, pad_token_id=0, pad_to_multiple_of=8), shape, recompute=True)
    batch = plain(features)
    again(features)
    assert batch["input_ids"].shape == (3, 16)
    tokens, padded, model_flops, hardware = plain.snapshot()
    assert (tokens, padded) == (32, 48)
    assert model_flops == sum(shape.train(n) for n in (10, 7, 3, 12))
    assert hardware == model_flops + shape.train(1) + shape.train(6) + shape.train(9)  # each row's padding segment
    assert again.snapshot()[3] == hardware + sum(shape.forward(n) for n in (12, 3, 1, 10, 6, 7, 9))
    out = rates((0, 0, 0.0, 0.0), plain.snapshot(), 2.0, peak=None)
    assert out["tokens_per_s"] == 16 and out["real_token_fraction"] == round(32 / 48, 4) and out["mfu"] is None


def test_peaks_match_whole_device_names(monkeypatch):
    monkeypatch.delenv("MSM_PEAK_TFLOPS", raising=False)
    assert peak_tflops("NVIDIA H100 80GB HBM3", bf16=True) == 989.4
    assert peak_tflops("NVIDIA H100 PCIe", bf16=True) == 756.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB", bf16=False) == 19.5
    assert peak_tflops("NVIDIA A10G", bf16=True) is None and peak_tflops(None, bf16=True) is None
    monkeypatch.setenv("MSM_PEAK_TFLOPS", "50")
    assert peak_tflops(None, bf16=True) == 50.0
