"""Disk cache of LLM responses: one JSON file per request, ``<dir>/<first 2 hex>/<key>.json``.

One file per entry (not a database) because many jobs on a cluster share the cache over a network
filesystem: writers never contend for one file, and a crash mid-write cannot corrupt other entries.
Each write goes to a temporary file in the same folder and is published with ``os.replace``
(``msm.jsonl.write_json``; atomic on POSIX), so a reader sees a whole entry or none; a job killed mid-run leaves every finished answer
behind and a rerun asks only for the rest. Two writers of the same key write the same content, so the
last rename winning is harmless. An unreadable entry (truncated by a full disk, hand-edited) counts as
a miss and is overwritten by the next answer.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from msm.jsonl import write_json
from msm.llm.types import Request, Response

log = logging.getLogger(__name__)


class ResponseCache:
    """Only answers with text are stored (``Response.cacheable``: whole or cut off, never empty, refused or
    failed); the stored copy keeps the request and the endpoint for inspection (``python -m msm.llm cache``)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Response | None:
        path = self.path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            resp = Response.from_dict(entry["response"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("ignoring unreadable LLM cache entry %s (%s)", path, type(e).__name__)
            return None
        if not resp.cacheable:  # written by an older msm (an empty answer): asked again
            return None
        resp.cached = True
        return resp

    def put(self, key: str, req: Request, resp: Response, *, backend: str, model: str, endpoint: str = "local") -> bool:
        """Store ``resp`` if it is an answer with text; returns whether it was stored."""
        if not resp.cacheable:
            return False
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        stored = resp.to_dict()
        stored["cached"] = False
        entry = {"key": key, "backend": backend, "model": model, "endpoint": endpoint, "request": req.to_dict(),
                 "response": stored}
        write_json(path, entry, indent=None)
        return True

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("??/*.json"))

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.root)!r})"
