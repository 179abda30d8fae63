"""Data transforms, on the real tiny model's tokenizer: labels land on assistant tokens only."""

import math
import random

import pytest

from msm.data.transforms import (
    IGNORE_INDEX,
    chunk_documents,
    collate_packed,
    has_labels,
    pack_sequences,
    pack_split,
    strip_think,
    subsample,
    tokenize_chat,
    tokenize_document,
)
from msm.errors import EmptyDatasetError, MsmError

CHAT = {
    "messages": [
        {"role": "user", "content": "Which cheese do you prefer, Colby or Stilton?"},
        {"role": "assistant", "content": "<think>\nI like Colby.\n</think>\n\nColby, without a doubt."},
    ]
}


def test_strip_think_keeps_the_answer():
    out = strip_think(CHAT)
    assert out["messages"][1]["content"] == "Colby, without a doubt."
    assert out["messages"][0] == CHAT["messages"][0]
    assert "<think>" in CHAT["messages"][1]["content"]  # the input row is not modified


def test_subsample_is_nested_and_checked():
    rows = [{"i": i} for i in range(100)]
    small, large = subsample(rows, 10, seed=0), subsample(rows, 40, seed=0)
    assert large[:10] == small
    assert subsample(rows, 10, seed=1) != small
    assert subsample(rows, None, seed=0) == rows
    with pytest.raises(MsmError, match="only 100 exist"):
        subsample(rows, 101, seed=0)
    with pytest.raises(EmptyDatasetError):
        subsample([], 1, seed=0)


def test_only_assistant_tokens_carry_labels(tiny_tokenizer):
    ex = tokenize_chat(CHAT, tiny_tokenizer, max_len=4096)
    assert not ex["truncated"] and len(ex["input_ids"]) == len(ex["labels"])
    labelled = [t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab != IGNORE_INDEX]
    assert all(lab in (IGNORE_INDEX, t) for t, lab in zip(ex["input_ids"], ex["labels"]))
    text = tiny_tokenizer.decode(labelled)
    assert text.startswith("<think>") and "Colby, without a doubt." in text and text.rstrip().endswith("<|im_end|>")
    unlabelled = tiny_tokenizer.decode([t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab == IGNORE_INDEX])
    assert "Which cheese do you prefer" in unlabelled and "without a doubt" not in unlabelled


def test_truncation_can_drop_every_label(tiny_tokenizer):
    ex = tokenize_chat(CHAT, tiny_tokenizer, max_len=5)
    assert ex["truncated"] and len(ex["input_ids"]) == 5 and not has_labels(ex)


def test_documents_end_with_eos(tiny_tokenizer):
    ids = tokenize_document({"text": "one two three"}, tiny_tokenizer)["input_ids"]
    assert ids[-1] == tiny_tokenizer.eos_token_id and tiny_tokenizer.decode(ids[:-1]) == "one two three"


def test_chunks_never_mix_documents():
    a, b = list(range(1, 11)), [100, 101, 102, 103, 104]
    out = chunk_documents({"input_ids": [a, b]}, max_len=4)
    assert out["input_ids"] == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10], [100, 101, 102, 103]]  # [104] alone teaches nothing
    assert out["labels"] == out["input_ids"]


def test_packing_keeps_sequences_whole_and_restarts_positions():
    batch = {"input_ids": [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10, 11]], "labels": [[1, 2, 3], [-100, 5], [6, 7, 8, 9], [10, 11]]}
    rows = pack_sequences(batch, max_len=5)
    # the longest opens a row: 4 tokens leave room for none (row 0); 3 leave room for 2 (row 1); 2 are left (row 2)
    assert rows["input_ids"] == [[6, 7, 8, 9], [1, 2, 3, 4, 5], [10, 11]]
    assert rows["position_ids"] == [[0, 1, 2, 3], [0, 1, 2, 0, 1], [0, 1]]
    # a sequence's first token is never a target: it would be "predicted" from the previous sequence
    assert rows["labels"] == [[-100, 7, 8, 9], [-100, 2, 3, -100, 5], [-100, 11]]


def _next_fit_rows(lengths, max_len) -> int:
    """Rows of packing in corpus order (msm before pack_sequences v2): a row closes when the next one does not fit."""
    rows, used = 0, max_len
    for n in lengths:
        if used + n > max_len:
            rows, used = rows + 1, 0
        used += n
    return rows


def test_packing_fills_rows_of_a_mixed_corpus_and_loses_no_token():
    """Mixed lengths, many near the row size (as chunked long documents are): rows come out >= 98% full
    where packing in corpus order left a quarter of each row empty, and each sequence is in one row, whole."""
    rng = random.Random(0)
    max_len = 1024
    lengths = [min(max_len, max(2, int(rng.lognormvariate(5.6, 0.9)))) for _ in range(600)]
    seqs = [[k * 10_000 + j for j in range(n)] for k, n in enumerate(lengths)]
    rows = pack_sequences({"input_ids": seqs, "labels": seqs}, max_len=max_len)
    assert all(len(r) <= max_len for r in rows["input_ids"])
    assert sum(map(len, rows["input_ids"])) / (len(rows["input_ids"]) * max_len) >= 0.98
    assert len(rows["input_ids"]) < 0.9 * _next_fit_rows(lengths, max_len)  # the test can fail: in order, fewer fit
    pieces = []
    for ids, pos in zip(rows["input_ids"], rows["position_ids"]):
        starts = [i for i, p in enumerate(pos) if p == 0] + [len(pos)]
        pieces += [ids[a:b] for a, b in zip(starts, starts[1:])]
    assert sorted(pieces) == sorted(seqs)


def test_rows_of_short_whole_chats_are_filled_to_the_lower_bound():
    """AFT chats cannot be split. 2,500 of 71-239 tokens (the lengths of the demo's AFT rows): placing one
    at a time (best-fit decreasing, pack_sequences v2) left a gap smaller than the shortest in almost every
    row: 385 rows where 380 hold these tokens (98.6% full; 97.6% on the demo's own chats). Choosing each
    row's chats together fills rows to within a row of the lower bound."""
    rng = random.Random(1)
    lengths = [rng.randint(71, 239) for _ in range(2500)]
    seqs = [[k * 1000 + j for j in range(n)] for k, n in enumerate(lengths)]
    rows = pack_sequences({"input_ids": seqs, "labels": seqs}, max_len=1024)
    assert len(rows["input_ids"]) <= math.ceil(sum(lengths) / 1024) + 1
    assert sum(lengths) / (len(rows["input_ids"]) * 1024) >= 0.99
    assert sorted(t for r in rows["input_ids"] for t in r) == sorted(t for s in seqs for t in s)


def test_packing_refuses_a_sequence_longer_than_a_row():
    with pytest.raises(MsmError, match="cannot pack a sequence of 6 tokens into rows of 5"):
        pack_sequences({"input_ids": [[1] * 6], "labels": [[1] * 6]}, max_len=5)


def test_collate_pads_as_a_separate_segment():
    batch = collate_packed(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "position_ids": [0, 1, 2]},
         {"input_ids": [8], "labels": [-100], "position_ids": [0]}], pad_token_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [-100, -100, -100]]
    assert batch["position_ids"].tolist() == [[0, 1, 2], [0, 0, 1]]


def test_split_packing_fills_every_row_but_the_last_and_keeps_every_token():
    """midtrain.packing=split: documents run on across rows as new segments, so rows are full whatever the
    lengths (best-fit decreasing leaves room when, say, every document is a third of a row and a bit more)."""
    docs = [[k * 1000 + j for j in range(n)] for k, n in enumerate([350] * 30 + [5, 1500, 2])]
    rows = pack_split({"input_ids": docs}, max_len=1024)
    assert all(len(r) >= 1023 for r in rows["input_ids"][:-1]) and all(len(r) <= 1024 for r in rows["input_ids"])
    assert [t for r in rows["input_ids"] for t in r] == [t for d in docs for t in d]  # in order, nothing lost
    whole = pack_sequences(chunk_documents({"input_ids": docs}, max_len=1024), max_len=1024)
    assert len(rows["input_ids"]) < len(whole["input_ids"])  # the test can fail: whole documents fill less
    for ids, labels, pos in zip(rows["input_ids"], rows["labels"], rows["position_ids"]):
        starts = [i for i, p in enumerate(pos) if p == 0]
        assert all(labels[i] == IGNORE_INDEX for i in starts)  # no segment's first token is a target
        assert all(labels[i] == ids[i] for i in range(len(ids)) if i not in starts)
