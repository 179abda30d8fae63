"""Packed training rows, as the collator builds them, leak no attention across sequences."""

import torch

from msm.data.transforms import collate_packed, pack_sequences
from msm.models import load_model


def test_packed_batch_matches_each_sequence_alone(tiny_model_dir):
    model = load_model(tiny_model_dir, dtype="float32")
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randint(3, 1000, (n,), generator=g).tolist() for n in (7, 5, 9, 4)]
    rows = pack_sequences({"input_ids": seqs, "labels": seqs}, max_len=13)
    assert len(rows["input_ids"]) == 2  # best-fit decreasing: [9+4], [7+5], two sequences per row
    batch = collate_packed([{k: rows[k][i] for k in rows} for i in range(2)], pad_token_id=0)
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
        starts = [(1, 0), (1, 7), (0, 0), (0, 9)]
        for seq, (row, start) in zip(seqs, starts):
            alone = model(input_ids=torch.tensor([seq])).logits[0]
            torch.testing.assert_close(packed[row, start : start + len(seq)], alone, atol=1e-5, rtol=1e-4)
        # the test can fail: positions that run on across the boundary let the second sequence see the first
        leaky = model(input_ids=batch["input_ids"][1:2, :12], position_ids=torch.arange(12)[None]).logits
        alone = model(input_ids=torch.tensor([seqs[1]])).logits[0]
        assert not torch.allclose(leaky[0, 7:12], alone, atol=1e-3)


def test_rounding_the_width_changes_shapes_not_the_loss(tiny_model_dir):
    """pad_to_multiple_of pads every batch to a few widths (a CPU memory fix, see collate_packed); the padding
    carries no labels and no real token attends to it, so the loss is the unpadded loss."""
    model = load_model(tiny_model_dir, dtype="float32")
    g = torch.Generator().manual_seed(1)
    seqs = [torch.randint(3, 1000, (n,), generator=g).tolist() for n in (11, 6, 9)]
    rows = pack_sequences({"input_ids": seqs, "labels": seqs}, max_len=20)
    features = [{k: rows[k][i] for k in rows} for i in range(len(rows["input_ids"]))]
    exact = collate_packed(features, pad_token_id=0)
    rounded = collate_packed(features, pad_token_id=0, pad_to_multiple_of=16)
    assert exact["input_ids"].shape[1] == 20 and rounded["input_ids"].shape[1] == 32  # rows [11+9], [6]
    assert (rounded["labels"][:, 20:] == -100).all()
    with torch.no_grad():
        losses = [model(**batch).loss for batch in (exact, rounded)]
    torch.testing.assert_close(losses[0], losses[1], atol=1e-6, rtol=0)  # fp32: equal up to summation order


def test_the_packed_loss_is_the_loss_of_each_sequence_alone(tiny_model_dir):
    """The loss of a packed, padded batch is the token-weighted mean of the losses of its sequences trained
    alone (each predicts its tokens after the first), to 1e-5 in fp32: packing changes the shapes, not the loss."""
    model = load_model(tiny_model_dir, dtype="float32")
    g = torch.Generator().manual_seed(2)
    seqs = [torch.randint(3, 1000, (n,), generator=g).tolist() for n in (31, 6, 17, 25, 9, 40, 3, 12)]
    rows = pack_sequences({"input_ids": seqs, "labels": seqs}, max_len=48)
    assert len(rows["input_ids"]) < len(seqs)
    batch = collate_packed([{k: rows[k][i] for k in rows} for i in range(len(rows["input_ids"]))], pad_token_id=0,
                           pad_to_multiple_of=16)
    with torch.no_grad():
        packed = model(**batch).loss
        alone = [model(input_ids=torch.tensor([s]), labels=torch.tensor([s])).loss for s in seqs]
    weights = torch.tensor([len(s) - 1 for s in seqs], dtype=torch.float32)
    torch.testing.assert_close(packed, (torch.stack(alone) * weights).sum() / weights.sum(), atol=1e-5, rtol=0)
