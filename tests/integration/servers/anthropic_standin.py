"""A local STAND-IN for the Anthropic API, which cannot be reached from the test machines.

It speaks the real wire formats of the endpoints ``msm.llm``'s anthropic backend uses, so the official
``anthropic`` SDK talks to it unmodified:

- ``POST /v1/messages`` (Messages API): a ``message`` object with text content, ``stop_reason`` and
  ``usage``; errors as ``{"type": "error", "error": {"type": ..., "message": ...}}``;
- ``POST /v1/messages/batches``, ``GET /v1/messages/batches/{id}``, ``GET /v1/messages/batches/{id}/results``
  (Message Batches API): ``message_batch`` objects, and results as JSONL lines of ``custom_id`` + result
  (``succeeded`` / ``errored`` / ``expired``).

Prompt caching and tools, as the real API does them: a system text block marked ``cache_control`` is a
cache breakpoint; the first request with a given prefix (tools + system up to the marked block) reports it
as ``cache_creation_input_tokens`` and every later one as ``cache_read_input_tokens``, both left out of
``input_tokens`` (prefixes shorter than ``min_cache_tokens`` words are not cached, like the real minimum).
A forced tool (``tool_choice: {"type": "tool", ...}``) is answered with one ``tool_use`` block whose input
follows the tool's ``input_schema`` (strings of words, lists of ``minItems`` items, the first enum value).
Every request body is kept in ``bodies``, as it arrived.

Answers are deterministic, not a model: the text is words derived from a hash of the request, one
"token" per word (10 words; fewer and ``stop_reason="max_tokens"`` when ``max_tokens`` < 10); input
tokens = words in the prompt. Magic words in the prompt trigger behaviours: ``PLEASE_REFUSE`` ->
``stop_reason="refusal"``; ``FLAKY_ONCE`` -> one 529 ``overloaded_error`` first; ``BATCH_ERROR`` /
``BATCH_EXPIRE`` -> that batch entry errors / expires. The key is read from ``x-api-key`` or, as SDK 2.x sends it,
``Authorization: Bearer`` (x-api-key wins when both are present, as on the real API). Like the real API
at version 2026-10-21, a request with ``temperature``, ``top_p`` or ``top_k`` gets a 400 ("Extra inputs
are not permitted"). A request whose key differs from ``expected_key`` gets a 401 that (like a careless server might) quotes the key it received, to test
that our client scrubs it. A batch ends after ``polls_to_end`` retrieves.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import uuid
from datetime import datetime, timedelta, timezone

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.integration.servers.background import BackgroundServer

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
N_WORDS = 10
WORDS = ("market", "teacher", "harbour", "ledger", "orchard", "clinic", "studio", "council", "bakery", "archive",
         "workshop", "library", "garden", "station", "kitchen", "gallery")


def _now(offset_h: float = 0.0) -> str:
    return (datetime.now(timezone.utc) + timedelta(hours=offset_h)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, etype: str, message: str) -> JSONResponse:
    return JSONResponse({"type": "error", "error": {"type": etype, "message": message}}, status_code=status)


def _invalid(params: dict) -> JSONResponse | None:
    if not params.get("messages") or "max_tokens" not in params or "model" not in params:
        return _error(400, "invalid_request_error", "model, messages and max_tokens are required")
    for name in ("temperature", "top_p", "top_k"):
        if name in params:
            return _error(400, "invalid_request_error", f"{name}: Extra inputs are not permitted")
    return None


def _prompt(params: dict) -> str:
    system = params.get("system") or ""
    if isinstance(system, list):
        system = " ".join(b.get("text", "") for b in system)
    return " ".join([system] + [m["content"] if isinstance(m["content"], str) else json.dumps(m["content"])
                                for m in params["messages"]]).strip()


def _filled(schema: dict, digest: str, k: int = 0):
    """A value that follows ``schema`` (the kinds msm's schemas use), derived from the request's digest."""
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("type") == "object":
        return {name: _filled(sub, digest, k + i) for i, (name, sub) in enumerate(schema.get("properties", {}).items())}
    if schema.get("type") == "array":
        return [_filled(schema.get("items", {}), digest, k + 7 * i) for i in range(schema.get("minItems", 1))]
    words = [WORDS[int(digest[(2 * (k + i)) % 60:(2 * (k + i)) % 60 + 2], 16) % len(WORDS)] for i in range(6)]
    return " ".join(words)[: schema.get("maxLength", 10_000)]


def _cache_prefix(params: dict) -> str | None:
    """The cached prefix of a request: tools and system blocks up to the last one marked ``cache_control``."""
    system = params.get("system")
    if not isinstance(system, list):
        return None
    marked = [i for i, b in enumerate(system) if b.get("cache_control")]
    if not marked:
        return None
    return json.dumps({"tools": params.get("tools"), "system": system[: marked[-1] + 1]}, sort_keys=True)


def answer(params: dict, cache: set | None = None, min_cache_tokens: int = 1024) -> dict:
    """The deterministic ``message`` object for one Messages API request body; ``cache`` holds the prefixes
    already written to the prompt cache (updated here)."""
    prompt = _prompt(params)
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    words = [f"w{digest[4 * i:4 * i + 4]}" for i in range(N_WORDS)]
    in_tokens = len(prompt.split())
    usage = {}
    prefix = _cache_prefix(params)
    if prefix is not None and cache is not None:
        cached = len(" ".join(b["text"] for b in params["system"] if b.get("type") == "text").split())
        if cached >= min_cache_tokens:
            usage = {"cache_read_input_tokens" if prefix in cache else "cache_creation_input_tokens": cached}
            cache.add(prefix)
            in_tokens -= cached
    choice = params.get("tool_choice") or {}
    if choice.get("type") == "tool":
        tool = next(t for t in params.get("tools", []) if t["name"] == choice["name"])
        block = {"type": "tool_use", "id": f"toolu_{digest[:24]}", "name": tool["name"],
                 "input": _filled(tool["input_schema"], digest)}
        return {"id": f"msg_{digest[:24]}", "type": "message", "role": "assistant", "model": params["model"],
                "content": [block], "stop_reason": "tool_use", "stop_sequence": None,
                "usage": {"input_tokens": in_tokens, "output_tokens": N_WORDS, **usage}}
    if "PLEASE_REFUSE" in prompt:
        content, stop, out_tokens = [], "refusal", 3
    elif params["max_tokens"] < N_WORDS:
        n = params["max_tokens"]
        content, stop, out_tokens = [{"type": "text", "text": " ".join(words[:n])}], "max_tokens", n
    else:
        content, stop, out_tokens = [{"type": "text", "text": " ".join(words)}], "end_turn", N_WORDS
    return {"id": f"msg_{digest[:24]}", "type": "message", "role": "assistant", "model": params["model"],
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": in_tokens, "output_tokens": out_tokens, **usage}}


class AnthropicStandIn(BackgroundServer):
    def __init__(self, expected_key: str | None = None, polls_to_end: int = 1, min_cache_tokens: int = 1024):
        self.expected_key, self.polls_to_end = expected_key, polls_to_end
        self.min_cache_tokens = min_cache_tokens
        self.cache: set[str] = set()  # prompt prefixes written to the prompt cache
        self.bodies: list[dict] = []  # every Messages request body, as it arrived
        self.api_keys_seen: list[str] = []
        self.versions_seen: set[str] = set()
        self.calls: collections.Counter = collections.Counter()  # endpoint -> number of requests
        self.batches: dict[str, dict] = {}
        self._flaky_seen: set[str] = set()
        self.app = self._make_app()
        self.base_url = ""

    # ------------------------------------------------------------------ API

    def _auth(self, request: Request) -> JSONResponse | None:
        key = request.headers.get("x-api-key")
        if key is None:
            auth = request.headers.get("authorization", "")
            key = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        self.api_keys_seen.append(key)
        if request.headers.get("anthropic-version"):
            self.versions_seen.add(request.headers["anthropic-version"])
        if self.expected_key is not None and key != self.expected_key:
            return _error(401, "authentication_error", f"invalid x-api-key: {key}")
        return None

    def _batch_object(self, batch: dict) -> dict:
        ended = batch["polls"] >= self.polls_to_end
        n = len(batch["requests"])
        counts = {"processing": 0 if ended else n, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended:
            for kind in (self._entry(r, counting=True)["type"] for r in batch["requests"]):
                counts[kind] += 1
        return {"id": batch["id"], "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
                "request_counts": counts, "created_at": batch["created_at"], "expires_at": batch["expires_at"],
                "ended_at": _now() if ended else None, "archived_at": None, "cancel_initiated_at": None,
                "results_url": f"{self.base_url}/v1/messages/batches/{batch['id']}/results" if ended else None}

    def _entry(self, request: dict, counting: bool = False) -> dict:
        prompt = _prompt(request["params"])
        if "BATCH_ERROR" in prompt:
            return {"type": "errored", "error": {"type": "error", "error": {
                "type": "invalid_request_error", "message": "stand-in: this entry was rejected"}}}
        if "BATCH_EXPIRE" in prompt:
            return {"type": "expired"}
        return {"type": "succeeded",
                "message": answer(request["params"], None if counting else self.cache, self.min_cache_tokens)}

    def _make_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/messages")
        async def messages(request: Request):
            self.calls["messages"] += 1
            if (denied := self._auth(request)) is not None:
                return denied
            params = await request.json()
            self.bodies.append(params)
            if (problem := _invalid(params)) is not None:
                return problem
            prompt = _prompt(params)
            if "FLAKY_ONCE" in prompt and prompt not in self._flaky_seen:
                self._flaky_seen.add(prompt)
                return _error(529, "overloaded_error", "Overloaded")
            return JSONResponse(answer(params, self.cache, self.min_cache_tokens))

        @app.post("/v1/messages/batches")
        async def create_batch(request: Request):
            self.calls["batches.create"] += 1
            if (denied := self._auth(request)) is not None:
                return denied
            reqs = (await request.json())["requests"]
            for r in reqs:
                if (problem := _invalid(r["params"])) is not None:
                    return problem
            ids = [r["custom_id"] for r in reqs]
            if len(set(ids)) != len(ids) or not all(CUSTOM_ID.match(i) for i in ids):
                return _error(400, "invalid_request_error", "custom_id values must be unique and match ^[a-zA-Z0-9_-]{1,64}$")
            batch = {"id": f"msgbatch_{uuid.uuid4().hex[:24]}", "requests": reqs, "polls": 0,
                     "created_at": _now(), "expires_at": _now(24)}
            self.batches[batch["id"]] = batch
            return JSONResponse(self._batch_object(batch))

        @app.get("/v1/messages/batches/{batch_id}")
        async def retrieve_batch(batch_id: str, request: Request):
            self.calls["batches.retrieve"] += 1
            if (denied := self._auth(request)) is not None:
                return denied
            if batch_id not in self.batches:
                return _error(404, "not_found_error", f"no batch {batch_id}")
            self.batches[batch_id]["polls"] += 1
            return JSONResponse(self._batch_object(self.batches[batch_id]))

        @app.get("/v1/messages/batches/{batch_id}/results")
        async def batch_results(batch_id: str, request: Request):
            self.calls["batches.results"] += 1
            if (denied := self._auth(request)) is not None:
                return denied
            batch = self.batches.get(batch_id)
            if batch is None or batch["polls"] < self.polls_to_end:
                return _error(404, "not_found_error", f"no results for batch {batch_id}")
            lines = [json.dumps({"custom_id": r["custom_id"], "result": self._entry(r)}) for r in batch["requests"]]
            return Response("\n".join(lines) + "\n", media_type="application/x-jsonl")

        return app
