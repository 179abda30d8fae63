"""How much of each training batch is real data: msm's packing against padding and against TRL's packing.

    python bench/packing.py                       # the embedded default's corpora (python train.py's data)
    python bench/packing.py spec=rules            # any job's: the same overrides as train.py
    python bench/packing.py --trials 5 --out bench/results/packing.json

For each corpus (the job's documents and AFT rows as its data stages publish them, and a mixed-length
corpus of those documents joined into ones longer than a row) and each way of making rows, it builds the
batches the Trainer would (rows in a seeded random order, ``batch_size`` rows a batch, each batch padded to
its longest row, rounded as the collator rounds) and reports:

- row fill: mean real tokens per row / max_seq_len;
- real tokens: real tokens / tokens computed, over every batch (median over ``--trials`` orders, min-max).

Ways of making rows: ``padding`` (one sequence per row, the plain HF Trainer with a padding collator),
``msm in order`` (rows filled in corpus order, each closed when the next sequence does not fit), ``msm``
(rows completed by a subset sum: ``pack_sequences``, what training does by default),
``msm split`` (documents only: ``midtrain.packing=split``) and ``TRL bfd`` (``trl.pack_dataset``; TRL then
trains each batch as one flattened, padding-free row, so its batches hold no padding at all: its
real-token figure is its row fill's, at one row per batch). TRL is pinned in ``pyproject.toml``;
an environment without it gets a line that says so.
"""

from __future__ import annotations

import argparse
import random
import statistics

from common import base_model_folder, job_config, mixed_lengths, pipeline_data, write_report
from datasets import Dataset, disable_progress_bars

from msm.data.transforms import (
    chunk_documents,
    has_labels,
    pack_sequences,
    pack_split,
    tokenize_chat,
    tokenize_document,
)
from msm.models import load_tokenizer


def sequences(kind: str, rows: list[dict], tokenizer, max_len: int) -> list[dict]:
    """The token sequences training packs: documents tokenized and cut at max_len, chats with labels."""
    if kind == "documents":
        ids = [tokenize_document(r, tokenizer)["input_ids"] for r in rows]
        cut = chunk_documents({"input_ids": ids}, max_len)
        return [{"input_ids": i, "labels": lab} for i, lab in zip(cut["input_ids"], cut["labels"])]
    chats = [tokenize_chat(r, tokenizer, max_len) for r in rows]
    return [{"input_ids": c["input_ids"], "labels": c["labels"]} for c in chats if has_labels(c)]


def in_order(lengths: list[int], max_len: int) -> list[int]:
    """Row lengths of packing in corpus order, each row closed when the next sequence does not fit."""
    rows, cur = [], 0
    for n in lengths:
        if cur and cur + n > max_len:
            rows.append(cur)
            cur = 0
        cur += n
    return rows + ([cur] if cur else [])


def trl_bfd(seqs: list[dict], max_len: int) -> list[int] | None:
    try:
        from trl import pack_dataset
    except ImportError:
        return None
    packed = pack_dataset(Dataset.from_dict({"input_ids": [s["input_ids"] for s in seqs]}), max_len, strategy="bfd")
    return [len(r) for r in packed["input_ids"]]


def batch_fraction(rows: list[int], batch_size: int, multiple: int, seed: int, flat: bool = False) -> float:
    """Real tokens / computed tokens over the batches the Trainer makes of these rows in one seeded order."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    real = computed = 0
    for b in range(0, len(order), batch_size):
        batch = [rows[i] for i in order[b : b + batch_size]]
        width = -(-max(batch) // multiple) * multiple
        real += sum(batch)
        computed += sum(batch) if flat else width * len(batch)
    return real / computed


def measure(name: str, seqs: list[dict], max_len: int, batch_size: int, multiple: int, trials: int,
            documents: bool) -> list[dict]:
    lengths = [len(s["input_ids"]) for s in seqs]
    packed = pack_sequences({k: [s[k] for s in seqs] for k in ("input_ids", "labels")}, max_len)
    ways = {
        "padding": (lengths, 1, False),
        "msm in order": (in_order(lengths, max_len), multiple, False),
        "msm": ([len(r) for r in packed["input_ids"]], multiple, False),
        "TRL bfd": (trl_bfd(seqs, max_len), 1, True),
    }
    if documents:  # midtrain.packing=split: the pieces end to end, a row cut every max_len tokens
        split = pack_split({"input_ids": [s["input_ids"] for s in seqs]}, max_len)
        ways["msm split"] = ([len(r) for r in split["input_ids"]], multiple, False)
    out = []
    for way, (rows, mult, flat) in ways.items():
        if rows is None:
            out.append({"corpus": name, "way": way, "note": "trl not installed"})
            continue
        assert sum(rows) == sum(lengths) or way == "msm split", f"{way} lost tokens"  # split: one-token pieces go
        fractions = [batch_fraction(rows, batch_size, mult, seed, flat) for seed in range(trials)]
        out.append({"corpus": name, "way": way, "sequences": len(lengths), "rows": len(rows),
                    "row_fill": sum(rows) / (len(rows) * max_len), "real_tokens": statistics.median(fractions),
                    "real_tokens_min": min(fractions), "real_tokens_max": max(fractions)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="train.py overrides naming the job whose data is measured")
    parser.add_argument("--trials", type=int, default=5, help="random batch orders per corpus")
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args()
    disable_progress_bars()
    job = job_config(args.overrides)
    cfg = job.cfg
    docs, chats = pipeline_data(job)
    tokenizer = load_tokenizer(base_model_folder(job), cfg.model.chat_template)
    results = []
    for stage, name, rows, kind in (("midtrain", "documents", docs, "documents"),
                                    ("aft", "AFT rows", chats, "chats"),
                                    ("midtrain", "mixed-length documents", mixed_lengths(docs), "documents")):
        s = cfg[stage]
        max_len = s.max_seq_len or cfg.model.max_seq_len
        seqs = sequences(kind, rows, tokenizer, max_len)
        results += measure(f"{name} ({len(rows)}, max_seq_len {max_len}, batch {s.batch_size})", seqs, max_len,
                           s.batch_size, s.pad_to_multiple_of, args.trials, kind == "documents")
    print(f"| corpus | way | sequences | rows | row fill | real tokens, median over {args.trials} orders (min-max) |")
    print("|---|---|---:|---:|---:|---|")
    for r in results:
        if "note" in r:
            print(f"| {r['corpus']} | {r['way']} | | | | {r['note']} |")
        else:
            print(f"| {r['corpus']} | {r['way']} | {r['sequences']} | {r['rows']} | {r['row_fill']:.1%} | "
                  f"{r['real_tokens']:.1%} ({r['real_tokens_min']:.1%}-{r['real_tokens_max']:.1%}) |")
    write_report(args.out, results=results)


if __name__ == "__main__":
    main()
