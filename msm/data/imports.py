"""Data a researcher brings: a document corpus to midtrain on, and AFT demonstrations, read as they are.

A released MSM corpus or AFT set is a JSONL file, a Parquet file, or a folder written by ``datasets``'
``save_to_disk``. Whatever it is, it is taken row by row, never regenerated, resampled or deduplicated:
empty rows are left out and counted (there is nothing to train on in them), duplicate rows are kept and
counted, and a row that is not what it should be (no text field, no chat) is an error naming the file and
the row. The stages that wrap these (``msm.stages.data``) key the artifact by the source's content digest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from msm.errors import MsmError
from msm.jsonl import iter_jsonl

VERSION = 1
FORMATS = "a JSONL file, a Parquet file, or a folder written by datasets' save_to_disk"
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
ROLES = ("system", "user", "assistant")


class BadImport(MsmError):
    """An imported corpus or demonstration set cannot be used as it is; the message names file and row."""


def _kind(path: Path) -> str:
    if path.is_dir():
        return "datasets"
    if path.suffix == ".parquet":
        return "parquet"
    if path.suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    raise BadImport(f"{path}: not a format msm reads ({FORMATS})")


def _table_rows(path: Path) -> Iterator[dict]:
    """The rows of a Parquet file (streamed in batches by pyarrow) or a save_to_disk folder (memory-mapped)."""
    try:
        if _kind(path) == "parquet":
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
                yield from batch.to_pylist()
            return
        import datasets

        found = datasets.load_from_disk(str(path))
    except (OSError, ValueError) as e:
        raise BadImport(f"{path}: cannot be read as {FORMATS} ({type(e).__name__}: {e})") from None
    if isinstance(found, datasets.DatasetDict):
        if len(found) != 1:
            raise BadImport(f"{path}: holds the splits {sorted(found)}; point at one split's folder")
        found = next(iter(found.values()))
    yield from found


def rows(path: str | Path) -> Iterator[tuple[int, dict]]:
    """``(row number, row)`` for every row of the source: the line number of a JSONL file, else 1-based."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BadImport(f"{path}: no such file or folder")
    if _kind(path) == "jsonl":
        for lineno, row in iter_jsonl(path):
            if not isinstance(row, dict):
                raise BadImport(f"{path}:{lineno}: a row must be a JSON object, got {type(row).__name__}")
            yield lineno, row
        return
    for i, row in enumerate(_table_rows(path), start=1):
        yield i, row


def columns(path: str | Path) -> list[str]:
    """The fields of the source's first row (what preflight checks a text field against)."""
    for _, row in rows(path):
        return list(row)
    raise BadImport(f"{Path(path).expanduser()}: holds no rows")


def documents(path: str | Path, text_field: str = "text") -> tuple[list[dict], dict]:
    """The corpus as documents (``id``, ``text``, ``source_row``) and its counts: rows read, empty rows left
    out, duplicate rows (kept), words and characters."""
    docs, empty, seen = [], 0, Counter()
    for n, row in rows(path):
        if text_field not in row:
            raise BadImport(f"{path}: row {n} has no {text_field!r} field (it has {sorted(row)[:8]}); "
                               "set datagen.documents.text_field")
        text = row[text_field]
        if text is not None and not isinstance(text, str):
            raise BadImport(f"{path}: row {n}: {text_field!r} must be text, got {type(text).__name__}")
        if not text or not text.strip():
            empty += 1
            continue
        seen[text] += 1
        docs.append({"id": f"imported-{n}", "text": text, "source_row": n})
    if not docs:
        raise BadImport(f"{path}: no row has any text in {text_field!r} ({empty} empty)")
    chars = sum(len(d["text"]) for d in docs)
    return docs, {"rows": len(docs) + empty, "empty": empty, "duplicates": sum(c - 1 for c in seen.values()),
                  "documents": len(docs), "words": sum(len(d["text"].split()) for d in docs), "chars": chars}


def demonstrations(path: str | Path) -> tuple[list[dict], dict]:
    """The AFT rows (``messages``, a chat ending in the assistant's turn) and their counts: rows, rows with a
    ``<think>`` block (whose no-CoT twin strips it) and without one (the same in both twins), duplicates."""
    out, seen, think = [], Counter(), 0
    for n, row in rows(path):
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadImport(f"{path}: row {n} has no 'messages' list (a chat: [{{'role': ..., 'content': ...}}])")
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise BadImport(f"{path}: row {n}: every message needs a role ({', '.join(ROLES)}) and text "
                                   f"content; got {str(m)[:80]}")
        if messages[-1]["role"] != "assistant":
            raise BadImport(f"{path}: row {n}: the chat must end with the assistant's turn (the demonstration)")
        key = repr([(m["role"], m["content"]) for m in messages])
        seen[key] += 1
        think += any(_THINK.search(m["content"]) for m in messages if m["role"] == "assistant")
        out.append({"messages": [{"role": m["role"], "content": m["content"]} for m in messages], "source_row": n})
    if not out:
        raise BadImport(f"{path}: holds no rows")
    return out, {"rows": len(out), "with_think": think, "without_think": len(out) - think,
                 "duplicates": sum(c - 1 for c in seen.values())}


def count(path: str | Path) -> int:
    """Rows of the source, read without holding them."""
    return sum(1 for _ in rows(path))
