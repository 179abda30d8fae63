"""What a generator has finished in its work folder, so a rerun after a crash redoes only the rest.

Both LLM pipelines (documents and the AFT pool) work step by step in one folder. Each step writes its
own file atomically and then records here that it finished (only when every request it sent was answered:
:func:`all_answered`), with a signature of everything its output
depends on (settings, prompt templates, the previous step's output). A rerun reuses a step only when
its record is there with the same signature; everything else is done again (and mostly answered by
the LLM response cache, since every request is deterministic).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from msm.errors import MsmError
from msm.jsonl import write_json


@contextmanager
def all_answered(client, what: str) -> Iterator:
    """Run one step; if any of its requests failed (after the client's retries), stop with their causes
    instead of letting the step be recorded as done. A step recorded with holes would be reused as finished
    by every rerun; stopped here, a rerun sends exactly the failed requests (the answered ones are in the
    response cache). Yields the step's usage (``LLMClient.stage_usage``), for its report."""
    with client.stage_usage() as used:
        yield used
    if used.failures:
        raise MsmError(f"{what}: {client.failure_note(used)}. Nothing of this step was recorded as done: a rerun "
                       "sends only the failed requests (the answered ones are in the LLM response cache)")


class StepLog:
    """``{step: {"signature": ..., "data": ...}}`` in one JSON file, rewritten atomically on every record."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: dict[str, dict] = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def get(self, step: str, signature: str) -> Any | None:
        """What ``step`` recorded when it finished with this ``signature``, or None (not done, or done otherwise)."""
        entry = self.entries.get(step)
        return entry["data"] if entry is not None and entry.get("signature") == signature else None

    def put(self, step: str, signature: str, data: Any) -> None:
        self.entries[step] = {"signature": signature, "data": data}
        write_json(self.path, self.entries, indent=1)

    def signatures(self) -> set[str]:
        return {e.get("signature") for e in self.entries.values()}
