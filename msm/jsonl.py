"""JSON Lines and JSON files, written so that a crash never leaves a complete-looking partial file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def count_lines(path: Path) -> int:
    path = Path(path)
    return sum(1 for line in path.open() if line.strip()) if path.exists() else 0


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    """Write rows to a temporary file and rename it into place; return the number of rows."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def write_json(path: Path, obj) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)
