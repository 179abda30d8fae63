"""JSON Lines and JSON files: the one reader and the one atomic writer every module uses.

Writes go to a uniquely named temporary file in the target's folder and are published with
``os.replace`` (atomic on POSIX), so a crash never leaves a complete-looking partial file, two
writers never share a temporary file, and a failed write leaves no temporary file behind. Files are
UTF-8; a line that is not JSON is an error naming the file and the line. Everything written passes
through ``msm.secrets`` first, so no artifact, manifest or record ever holds an API key.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from msm.errors import MsmError
from msm.secrets import scrub_text, scrubber


class JsonlSyntaxError(MsmError):
    """A line of a JSONL file is not JSON; ``path`` and ``lineno`` say where."""

    def __init__(self, path, lineno: int, problem: str):
        self.path, self.lineno, self.problem = str(path), lineno, problem
        super().__init__(f"{path}:{lineno}: {problem}")


TEMP_SUFFIX = ".tmp"


def temp_files(folder: Path) -> list[Path]:
    """Temporary files that writes killed mid-way left under ``folder`` (named ``.<file>.<random>.tmp``):
    never a finished file, so whoever resumes work in that folder deletes them."""
    return [p for p in Path(folder).rglob(f".*{TEMP_SUFFIX}") if p.is_file()]


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all at once or not at all, with anything shaped like a key redacted."""
    path = Path(path)
    text = scrub_text(text)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=str) + "\n")


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    """Write one JSON object per line, atomically; return the number of rows."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    n, scrub = 0, scrubber()
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(scrub(json.dumps(row, ensure_ascii=False)) + "\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


MAX_LINE_CHARS = 16 * 1024 * 1024
"""The longest line any JSONL file may have (a whole book is ~1M characters); callers reading short rows (eval
items, chats) pass a tighter limit. A line past it is refused before it is parsed: one 10 MB line in an item
file once grew a job to 12 GB downstream."""


def iter_jsonl(path: Path, max_line_chars: int = MAX_LINE_CHARS) -> Iterator[tuple[int, object]]:
    """``(line number, value)`` for every non-blank line, streamed (a 13k-document corpus is never held
    twice); a line that is not JSON, or longer than ``max_line_chars``, raises ``MsmError`` naming the file
    and the line."""
    with Path(path).open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if len(line) > max_line_chars:
                raise JsonlSyntaxError(path, lineno, f"a line of {len(line):,} characters (at most {max_line_chars:,} "
                                                     "here)")
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise JsonlSyntaxError(path, lineno, f"not valid JSON ({e.msg})") from None


def read_jsonl(path: Path) -> list:
    return [row for _, row in iter_jsonl(path)]


def count_lines(path: Path) -> int:
    """Non-blank lines of a JSONL file (0 when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return 0
    with path.open(encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())
