"""Small named transforms from rows to training examples.

Each function does one thing to one row (or one batch, for ``datasets.map(batched=True)``) so the
pipeline reads as a list of steps and each step can be tested on its own. Each carries a version
(``@transform(version=N)``): the stages that use a transform put :func:`versions` of their transforms
in their artifact key, so bumping a transform's version after changing what it produces rebuilds
exactly the artifacts made with it, instead of silently reusing stale ones.
"""

from __future__ import annotations

import collections
import random
import re
from collections.abc import Sequence

from msm.errors import EmptyDatasetError, MsmError

IGNORE_INDEX = -100
_THINK = re.compile(r"<think>.*?</think>\s*", re.DOTALL)
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "</s>", "<|endoftext|>")


def transform(version: int):
    """Mark a function as a named data transform at ``version``; bump it whenever its output changes."""
    def mark(fn):
        fn.version = version
        return fn
    return mark


def versions(*fns) -> dict[str, int]:
    """``{name: version}`` of the transforms a stage applies: part of that stage's artifact key."""
    return {fn.__name__: fn.version for fn in fns}


@transform(version=1)
def strip_think(row: dict) -> dict:
    """The no-CoT twin of a demonstration: the same answer without its ``<think>`` block."""
    messages = [
        {**m, "content": _THINK.sub("", m["content"]).lstrip()} if m["role"] == "assistant" else m
        for m in row["messages"]
    ]
    return {**row, "messages": messages}


@transform(version=1)
def subsample(rows: Sequence[dict], n: int | None, seed: int, what: str = "rows") -> list[dict]:
    """``n`` rows chosen by a fixed seed, so that a smaller scale is a subset of every larger one."""
    if not rows:
        raise EmptyDatasetError(f"no {what} to sample from")
    if n is None:
        return list(rows)
    if n <= 0:
        raise MsmError(f"cannot take {n} {what}: the count must be positive")
    if n > len(rows):
        raise MsmError(f"asked for {n} {what} but only {len(rows)} exist; lower aft_scale or grow the pool")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return [rows[i] for i in order[:n]]


@transform(version=1)
def dose(docs: Sequence[dict], max_documents: int | None, max_tokens: int | None, seed: int,
         count_tokens=None) -> list[dict]:
    """The MSM dose: the corpus in a fixed order (shuffled once with the data seed), then its first
    ``max_documents`` documents, and of those the longest run of whole documents that fits in ``max_tokens``
    tokens (``count_tokens(text)``). A smaller dose is a prefix of every larger one, so a dose sweep trains on
    nested subsets of one corpus and the shuffle spreads every dose over the whole corpus, not its first topics."""
    if not docs:
        raise EmptyDatasetError("no documents to take a dose of")
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    out = [docs[i] for i in (order if max_documents is None else order[:max_documents])]
    if max_tokens is None:
        return out
    kept, total = [], 0
    for doc in out:
        n = count_tokens(doc["text"])
        if total + n > max_tokens:
            break
        kept.append(doc)
        total += n
    if not kept:
        raise MsmError(f"midtrain.max_tokens={max_tokens} is smaller than the first document of the dose order "
                       f"({count_tokens(out[0]['text'])} tokens): raise it")
    return kept


@transform(version=1)
def tokenize_document(example: dict, tokenizer) -> dict:
    """A document's tokens followed by EOS, so the model learns where a document ends."""
    ids = tokenizer(example["text"], add_special_tokens=False)["input_ids"]
    return {"input_ids": ids + [tokenizer.eos_token_id]}


@transform(version=1)
def chunk_documents(batch: dict, max_len: int) -> dict:
    """Split each tokenized document into pieces of at most ``max_len`` tokens, labelled on every token."""
    chunks = [ids[i : i + max_len] for ids in batch["input_ids"] for i in range(0, len(ids), max_len)]
    chunks = [c for c in chunks if len(c) > 1]
    return {"input_ids": chunks, "labels": [list(c) for c in chunks]}


COMPLETION_CANDIDATES = 512  # sequences a row's subset sum chooses among: enough to fill a row, bounded time


@transform(version=3)
def pack_sequences(batch: dict, max_len: int) -> dict:
    """Pack whole sequences into rows of at most ``max_len`` tokens, each row completed: it opens with the
    longest sequence left, and the room beside it takes the subset of the sequences left whose lengths fill
    it best (an exact subset sum over lengths, among the ``COMPLETION_CANDIDATES`` longest that fit).

    Why: filling rows in corpus order closes a row as soon as the next sequence does not fit (rows of 1,024
    held ~785 tokens of a mixed-length corpus); best-fit decreasing places one sequence at a time and
    leaves, in almost every row, a gap smaller than the shortest sequence, e.g. 272 rows where 266 hold the
    tokens of 2,500 AFT chats. Choosing a row's sequences together fills rows to the token, and on that
    corpus reaches the lower bound (``bench/packing.py`` measures all three; tens of milliseconds for
    thousands of sequences). Rows come out longest-first; the Trainer shuffles them.

    Each row carries ``position_ids`` that restart at 0 for every sequence in it. With no attention
    mask, transformers reads the restarts as sequence boundaries and builds a block-diagonal causal
    mask, so a token never attends to another sequence in its row (``tests/unit/test_packing.py``
    checks the logits and the loss). Rows stay short (unlike flattening a whole batch into one row), which
    keeps the per-row mask small: on CPU a 2,600-token flattened row trained 2x slower per token.
    """
    lengths = [len(ids) for ids in batch["input_ids"]]
    too_long = [n for n in lengths if n > max_len]
    if too_long:  # chunk_documents / tokenize_chat cut sequences to max_len first
        raise MsmError(f"cannot pack a sequence of {max(too_long)} tokens into rows of {max_len}")
    left: dict[int, collections.deque] = collections.defaultdict(collections.deque)  # length -> sequences, in corpus order
    for i, n in enumerate(lengths):
        left[n].append(i)
    members: list[list[int]] = []  # the sequences of each row
    while left:
        first = max(left)
        row, room = [left[first].popleft()], max_len - first
        candidates: list[int] = []  # lengths, longest first, each as often as it could fit
        for n in sorted((n for n in left if n <= room and left[n]), reverse=True):
            candidates += [n] * min(len(left[n]), room // n)
            if len(candidates) >= COMPLETION_CANDIDATES:
                del candidates[COMPLETION_CANDIDATES:]
                break
        reach = [1]  # reach[j]: bit s set when some of the first j candidates sum to s (ints as bitsets)
        fits = (1 << (room + 1)) - 1
        for n in candidates:
            reach.append((reach[-1] | (reach[-1] << n)) & fits)
        total = reach[-1].bit_length() - 1  # the fullest the room can be
        for j in range(len(candidates), 0, -1):  # walk back: candidate j is in when total was not reachable without it
            if not (reach[j - 1] >> total) & 1:
                total -= candidates[j - 1]
                row.append(left[candidates[j - 1]].popleft())
        members.append(row)
        left = {n: q for n, q in left.items() if q}
    rows: dict[str, list] = {"input_ids": [], "labels": [], "position_ids": []}
    for row in members:
        ids, labels, positions = [], [], []
        for i in row:
            ids += batch["input_ids"][i]
            labels += [IGNORE_INDEX] + list(batch["labels"][i][1:])  # never predict a sequence's first token from the last one
            positions += list(range(lengths[i]))
        rows["input_ids"].append(ids)
        rows["labels"].append(labels)
        rows["position_ids"].append(positions)
    return rows


@transform(version=1)
def pack_split(batch: dict, max_len: int) -> dict:
    """Lay whole documents end to end and cut a row every ``max_len`` tokens: a document that runs past a
    row's end goes on at the start of the next, as a new segment (its positions restart, its first token
    there is no target). Every row but the last is full, whatever the lengths; the price is that a
    continued piece is trained without the start of its document, as a document longer than a row always is.
    Midtraining only (``midtrain.packing=split``): a chat cut in two would lose its prompt."""
    rows: dict[str, list] = {"input_ids": [], "labels": [], "position_ids": []}
    cur: dict[str, list] = {"input_ids": [], "labels": [], "position_ids": []}
    for ids in batch["input_ids"]:
        while ids:
            piece, ids = ids[: max_len - len(cur["input_ids"])], ids[max_len - len(cur["input_ids"]) :]
            if len(piece) > 1:  # a one-token piece has nothing to predict
                cur["input_ids"] += piece
                cur["labels"] += [IGNORE_INDEX] + list(piece[1:])
                cur["position_ids"] += list(range(len(piece)))
            if len(cur["input_ids"]) >= max_len - 1:  # full (one free token could hold no target)
                for k in rows:
                    rows[k].append(cur[k])
                cur = {"input_ids": [], "labels": [], "position_ids": []}
    if cur["input_ids"]:
        for k in rows:
            rows[k].append(cur[k])
    return rows


@transform(version=1)
def collate_packed(features: list[dict], pad_token_id: int, pad_to_multiple_of: int = 1) -> dict:
    """Right-pad packed rows into a batch, its width rounded up to ``pad_to_multiple_of``. Padding gets
    restarting positions (its own segment, which no real token attends to under the causal mask) and no
    labels, so it changes the shapes computed on, never the loss.

    Why round the width: on CPU, oneDNN builds and caches kernels (with their buffers) per distinct
    matrix shape, so a run whose every batch has a new length grows in memory step after step (the
    embedded demo's midtraining: +1 GB over 25 updates). A handful of widths keeps that cache small."""
    import torch

    width = max(len(f["input_ids"]) for f in features)
    width = -(-width // pad_to_multiple_of) * pad_to_multiple_of
    out = {"input_ids": [], "labels": [], "position_ids": []}
    for f in features:
        pad = width - len(f["input_ids"])
        out["input_ids"].append(list(f["input_ids"]) + [pad_token_id] * pad)
        out["labels"].append(list(f["labels"]) + [IGNORE_INDEX] * pad)
        out["position_ids"].append(list(f["position_ids"]) + list(range(pad)))
    return {k: torch.tensor(v, dtype=torch.long) for k, v in out.items()}


def assistant_spans(messages: list[dict], tokenizer) -> tuple[str, list[tuple[int, int]]]:
    """Render a chat and return the character spans of every assistant turn in the rendering.

    A turn's span is what the template adds between the prompt for that turn (rendered with
    ``add_generation_prompt``) and the chat up to and including it, so it covers the answer and the
    template's end-of-turn marker whatever the template is. If a template re-renders earlier turns
    (the prefix property fails), fall back to locating the message content in the text.
    """
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if upto.startswith(prompt) and text.startswith(upto):
            spans.append((len(prompt), len(upto)))
            continue
        start = text.find(m["content"], spans[-1][1] if spans else 0)
        if start < 0:
            raise MsmError("the chat template changed an assistant message; cannot find its tokens to train on")
        end = start + len(m["content"])
        for marker in _END_OF_TURN:
            if text.startswith(marker, end):
                end += len(marker)
                break
        spans.append((start, end))
    return text, spans


@transform(version=1)
def tokenize_chat(example: dict, tokenizer, max_len: int) -> dict:
    """Tokens of a rendered chat, with labels on assistant tokens only (everything else -100)."""
    text, spans = assistant_spans(example["messages"], tokenizer)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    labels = [
        tok if any(s <= start < e for s, e in spans) else IGNORE_INDEX for tok, (start, _end) in zip(ids, offsets)
    ]
    truncated = len(ids) > max_len
    return {"input_ids": ids[:max_len], "labels": labels[:max_len], "truncated": truncated}


@transform(version=1)
def has_labels(example: dict) -> bool:
    """False for a chat whose assistant tokens were all cut off by truncation: it would teach nothing."""
    return any(label != IGNORE_INDEX for label in example["labels"])
