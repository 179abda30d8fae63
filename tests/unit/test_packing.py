"""Packed training rows, as the collator builds them, leak no attention across sequences."""

import torch

from msm.data.transforms import collate_packed, pack_sequences
from msm.models import load_model


def test_packed_batch_matches_each_sequence_alone(tiny_model_dir):
    model = load_model(tiny_model_dir, dtype="float32")
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randint(3, 1000, (n,), generator=g).tolist() for n in (7, 5, 9, 4)]
    rows = pack_sequences({"input_ids": seqs, "labels": seqs}, max_len=13)
    assert len(rows["input_ids"]) == 2  # [7+5], [9+4]: two sequences per row
    batch = collate_packed([{k: rows[k][i] for k in rows} for i in range(2)], pad_token_id=0)
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
        starts = [(0, 0), (0, 7), (1, 0), (1, 9)]
        for seq, (row, start) in zip(seqs, starts):
            alone = model(input_ids=torch.tensor([seq])).logits[0]
            torch.testing.assert_close(packed[row, start : start + len(seq)], alone, atol=1e-5, rtol=1e-4)
        # the test can fail: positions that run on across the boundary let the second sequence see the first
        leaky = model(input_ids=batch["input_ids"][:1, :12], position_ids=torch.arange(12)[None]).logits
        alone = model(input_ids=torch.tensor([seqs[1]])).logits[0]
        assert not torch.allclose(leaky[0, 7:12], alone, atol=1e-3)
