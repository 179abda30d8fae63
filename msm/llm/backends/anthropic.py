"""Claude through the official ``anthropic`` SDK: the Messages API for single requests, and the Message
Batches API for bulk generation (half price, results within 24 h), used by ``LLMClient.complete_many``
when ``use_batches`` is set.

As with the OpenAI backend, the SDK's own retries are off and its client is made per event loop.

Sampling parameters: API version 2026-10-21 (sent by SDK 2.x) rejects ``temperature``, ``top_p`` and
``top_k`` with a 400 on every model, and the SDK does not accept them. So ``Request.temperature`` and
``top_p`` are not sent (a one-time log line says so when a request sets them); they still distinguish
cache entries, like ``sample_index``. The SDK sends the key as ``Authorization: Bearer``.

Prompt caching: with ``prompt_cache`` (the default) the system prompt goes out as one text block marked
``cache_control: ephemeral``, so every later request that shares it (the spec and the instructions) reads
it from Anthropic's cache at a tenth of the input price; the usage's ``cache_read_input_tokens`` and
``cache_creation_input_tokens`` are counted apart. A request with a JSON schema forces a tool whose input
schema it is, and the tool call's input comes back as the answer's JSON text.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from msm.jsonl import write_json
from msm.llm.backends import (
    BoundedTransport,
    ResponseTooLarge,
    SdkBackend,
    connection_failure,
    status_failure,
    too_large,
)
from msm.llm.types import BATCH_PRICE_FACTOR, BatchResult, Request, Response, RetryableError, Secret

log = logging.getLogger(__name__)

TOOL = "answer"
TOOL_DESCRIPTION = "Give the whole answer through this tool, in the shape its input schema sets."
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "stop", "pause_turn": "stop",
                "max_tokens": "length", "model_context_window_exceeded": "length", "refusal": "refusal"}


class _NotFound(Exception):
    """A journalled batch id the server no longer knows (internal)."""


class AnthropicBackend(SdkBackend):
    name = "anthropic"
    default_url = "https://api.anthropic.com"

    def __init__(self, model: str, *, api_key: Secret, base_url: str | None = None, use_batches: bool = False,
                 batch_poll_s: float = 30.0, prompt_cache: bool = True):
        super().__init__(model, api_key=api_key, base_url=base_url)
        self.use_batches = bool(use_batches)
        self.batch_poll_s = float(batch_poll_s)
        self.prompt_cache = bool(prompt_cache)
        self._warned_sampling = False

    def __repr__(self) -> str:
        return (f"AnthropicBackend(model={self.model!r}, base_url={self.base_url!r}, use_batches={self.use_batches}, "
                f"prompt_cache={self.prompt_cache})")

    def _make_sdk(self):
        from anthropic import AsyncAnthropic, DefaultAsyncHttpxClient

        return AsyncAnthropic(base_url=self.base_url, api_key=self._key.get(), max_retries=0,
                              http_client=DefaultAsyncHttpxClient(transport=BoundedTransport()))

    def params(self, req: Request, with_schema: bool = True) -> dict:
        """The Messages API body: the system prompt (marked for the prompt cache), then the messages; a schema
        as a forced tool (tools come first in Anthropic's cache prefix, so they are cached with the system)."""
        params = {"model": self.model, "max_tokens": req.max_tokens, "messages": [dict(m) for m in req.messages]}
        if req.system and self.prompt_cache:
            params["system"] = [{"type": "text", "text": req.system, "cache_control": {"type": "ephemeral"}}]
        elif req.system:
            params["system"] = req.system
        if with_schema and req.schema is not None:
            params["tools"] = [{"name": TOOL, "description": TOOL_DESCRIPTION, "input_schema": req.schema_dict()}]
            params["tool_choice"] = {"type": "tool", "name": TOOL}
        if (req.temperature != 1.0 or req.top_p is not None) and not self._warned_sampling:
            self._warned_sampling = True
            log.info("anthropic: the Messages API takes no temperature/top_p (API 2026-10-21); not sending them")
        if req.stop:
            params["stop_sequences"] = list(req.stop)
        return params

    async def _guarded(self, coro_fn, *, what: str, not_found=False):
        """Await ``coro_fn()`` with SDK failures mapped onto ours (see ``msm.llm.backends``)."""
        import anthropic

        status = conn = None  # mapped outside the except blocks: no SDK exception rides along as __context__
        try:
            return await coro_fn()
        except ResponseTooLarge as e:
            return Response("", "error", error=f"{self.name}: {e}", cause="response too large")
        except anthropic.APIStatusError as e:
            status = (e.status_code, e.body, e.response.headers)
        except anthropic.APIConnectionError as e:
            if too_large(e):
                return Response("", "error", error=f"{self.name}: {e.__cause__ or e}", cause="response too large")
            conn = connection_failure(self.name, e, isinstance(e, anthropic.APITimeoutError))
        except anthropic.APIResponseValidationError as e:
            conn = connection_failure(self.name, e, False)
        if conn is not None:
            raise conn
        if not_found and status[0] == 404:
            raise _NotFound()
        return status_failure(self.name, *status, self._key, what=what)  # raises, or an error Response

    async def _send(self, req: Request, timeout_s: float, with_schema: bool) -> Response:
        sdk = self._client()
        out = await self._guarded(lambda: sdk.messages.create(**self.params(req, with_schema), timeout=timeout_s),
                                  what=f"model {self.model!r}")
        return out if isinstance(out, Response) else self.parse(out)

    @staticmethod
    def parse(message) -> Response:
        """A ``Message`` as a Response: the text blocks, or the forced tool's input as JSON text. Anthropic's
        ``input_tokens`` leaves out the prompt's cached parts; ours counts the whole prompt, cached parts apart."""
        tool = [b.input for b in message.content if getattr(b, "type", None) == "tool_use" and b.name == TOOL]
        text = json.dumps(tool[0], ensure_ascii=False) if tool else "".join(
            block.text for block in message.content if getattr(block, "type", None) == "text")
        usage = message.usage
        read = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        write = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        return Response(text, STOP_REASONS.get(message.stop_reason or "", "stop"),
                        input_tokens=int(usage.input_tokens or 0) + read + write,
                        output_tokens=int(usage.output_tokens or 0), cache_read_tokens=read, cache_write_tokens=write,
                        structured=bool(tool))

    # ------------------------------------------------------------------ Message Batches

    async def run_batch(self, todo: dict[str, Request], *, retry, journal: Path | None) -> BatchResult:
        """Submit ``todo`` (custom_id = cache key) as one batch, poll until it ends, collect every entry.

        ``retry(fn)`` runs ``fn`` under the client's retry policy. ``journal`` (optional) remembers the
        batch id, so a rerun after a crash re-attaches instead of submitting (and paying) again.
        """
        sdk = self._client()
        batch = None
        if journal is not None and journal.is_file():
            batch_id = json.loads(journal.read_text())["id"]
            try:
                batch = await retry(lambda: self._guarded(lambda: sdk.messages.batches.retrieve(batch_id),
                                                          what="batch retrieve", not_found=True))
                log.info("anthropic: re-attached to message batch %s", batch_id)
            except _NotFound:
                log.info("anthropic: journalled batch %s is gone; submitting again", batch_id)
                batch = None
        if batch is None or isinstance(batch, Response):
            requests = [{"custom_id": key, "params": self.params(req)} for key, req in todo.items()]
            batch = await retry(lambda: self._guarded(lambda: sdk.messages.batches.create(requests=requests),
                                                      what="batch create"))
            if isinstance(batch, Response):  # the whole batch was rejected (e.g. 400): every entry errors
                return BatchResult({k: batch for k in todo}, price_factor=BATCH_PRICE_FACTOR)
            if journal is not None:
                _write_atomic(journal, {"id": batch.id, "n_requests": len(todo)})
            log.info("anthropic: submitted message batch %s with %d requests", batch.id, len(todo))
        batch_id = batch.id
        while batch.processing_status != "ended":
            await asyncio.sleep(self.batch_poll_s)
            batch = await retry(lambda: self._guarded(lambda: sdk.messages.batches.retrieve(batch_id),
                                                      what="batch retrieve"))
            if isinstance(batch, Response):
                raise RetryableError(f"anthropic: polling batch {batch_id} failed: {batch.error}")
            log.debug("anthropic: batch %s %s %s", batch_id, batch.processing_status, batch.request_counts)

        async def fetch():
            return [item async for item in await sdk.messages.batches.results(batch_id)]

        items = await retry(lambda: self._guarded(fetch, what="batch results"))
        if isinstance(items, Response):
            raise RetryableError(f"anthropic: fetching results of batch {batch_id} failed: {items.error}")
        responses: dict[str, Response] = {}
        for item in items:
            if item.custom_id not in todo:
                continue
            result = item.result
            if result.type == "succeeded":
                responses[item.custom_id] = self.parse(result.message)
            elif result.type == "errored":
                err = result.error.error
                msg = self._key.scrub(f"anthropic batch entry errored: {err.type}: {err.message}")
                responses[item.custom_id] = Response("", "error", error=msg, cause="batch entry errored")
            else:  # expired or canceled
                responses[item.custom_id] = Response("", "error", error=f"anthropic batch entry {result.type}",
                                                     cause=f"batch entry {result.type}")
        if journal is not None:
            journal.unlink(missing_ok=True)
        return BatchResult(responses, price_factor=BATCH_PRICE_FACTOR)


def _write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)
