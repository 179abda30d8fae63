"""``python -m msm.llm cache [list|purge]``: what the LLM response cache holds, and removing part of it.

Why: the cache answers every repeated request for free, which is what a rerun wants, until an answer in it
is one nobody wants again (a server that was misconfigured, a model behind a URL that changed, entries an
older msm stored). Entries are grouped by stage (the request's tag: ``docgen/domains``, ``aft/questions``,
``judge/am``), endpoint (backend, model and base_url) and status (``ok``; ``truncated``: cut off at
max_tokens, read back as such; ``empty`` or ``refusal``: written by an older msm, never read back;
``unreadable``), and removed by the same filters.

    python -m msm.llm cache list                                  # counts by stage, endpoint and status
    python -m msm.llm cache list --endpoint 127.0.0.1:8000
    python -m msm.llm cache purge --endpoint 127.0.0.1:8000 --stage docgen --yes
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from msm.llm.types import Response
from msm.paths import default_store


def _status(entry: dict) -> str:
    resp = Response.from_dict(entry["response"])
    if resp.ok and not resp.text.strip():
        return "empty"
    return {"stop": "ok", "length": "truncated"}.get(resp.finish_reason, resp.finish_reason)


def entries(root: Path):
    """``(path, stage, endpoint, status)`` of every entry under ``root`` (``<store>/llm_cache``)."""
    for path in sorted(root.glob("??/*.json")):
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            stage = str(entry.get("request", {}).get("tag") or "untagged")
            endpoint = f"{entry.get('backend')}:{entry.get('model')}@{entry.get('endpoint', 'unrecorded')}"
            yield path, stage, endpoint, _status(entry)
        except (OSError, ValueError, KeyError, TypeError):
            yield path, "?", "?", "unreadable"


def _matches(stage: str, endpoint: str, status: str, args) -> bool:
    return ((args.stage is None or stage.startswith(args.stage))
            and (args.endpoint is None or args.endpoint in endpoint)
            and (args.status is None or status == args.status))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m msm.llm", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cache = sub.add_parser("cache", help="list or purge LLM response-cache entries")
    cache.add_argument("action", choices=["list", "purge"], nargs="?", default="list")
    cache.add_argument("--store", type=Path, default=None,
                       help="the artifact store (default: $MSM_STORE, else ~/.cache/msm/store)")
    cache.add_argument("--stage", help="entries whose request tag starts with this (docgen, aft/questions, judge)")
    cache.add_argument("--endpoint", help="entries whose backend:model@base_url contains this")
    cache.add_argument("--status", choices=["ok", "truncated", "empty", "refusal", "error", "unreadable"])
    cache.add_argument("--yes", action="store_true", help="purge without asking")
    args = parser.parse_args(argv)
    root = (args.store or default_store()).expanduser() / "llm_cache"
    if not root.is_dir():
        print(f"no LLM response cache at {root}", file=sys.stderr)
        return 1
    chosen = [(p, st, ep, s) for p, st, ep, s in entries(root) if _matches(st, ep, s, args)]
    counts = Counter((st, ep, s) for _, st, ep, s in chosen)
    for (stage, endpoint, status), n in sorted(counts.items()):
        print(f"{n:8d}  {status:10s}  {stage:24s}  {endpoint}")
    print(f"{len(chosen)} entr{'y' if len(chosen) == 1 else 'ies'} in {root}")
    if args.action == "purge" and chosen:
        if not args.yes and input(f"remove these {len(chosen)}? [y/N] ").strip().lower() != "y":
            print("nothing removed")
            return 1
        for path, *_ in chosen:
            path.unlink(missing_ok=True)
        print(f"removed {len(chosen)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
