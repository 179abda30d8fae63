"""Backends: the one place that knows each provider's SDK. Each maps its SDK's failures onto ours:

- 408, 409, 429 and 5xx, timeouts and dropped connections -> ``RetryableError`` (the client retries);
- 401, 403, 404 -> ``BackendConfigError`` (bad key, no access, unknown model: nothing later can succeed);
- any other 4xx -> a ``finish_reason="error"`` Response (this request is bad; the rest may be fine).

Messages are built from the status code and the error body's own type/message, never from the SDK
exception's text or its request object (which carries the auth header), and are scrubbed of the key.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import logging
import re
import time

import httpx2 as httpx  # the HTTP client both pinned SDKs (openai, anthropic) are built on

from msm.llm.types import BackendConfigError, Request, Response, RetryableError, Secret

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 409, 429}
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
"""The most of one HTTP response body a backend reads (16 MiB; a whole 4,096-token answer is ~20 KB of JSON):
a server that sends more (a runaway, a proxy's error page, an attack) is cut off there, not held in memory."""
CONFIG_STATUS = {401: "the API key was rejected", 403: "the API key lacks permission", 404: "not found (model name?)"}


def parse_retry_after(headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``retry-after`` (seconds or an HTTP date), if any."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


def _body_error(body) -> tuple[str, str]:
    """(type, message) from an error body shaped like OpenAI's or Anthropic's ``{"error": {...}}``."""
    err = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("type") or err.get("code") or "error"), str(err.get("message") or "")[:300]
    return "error", (str(body)[:300] if body else "")


def status_failure(backend: str, status: int, body, headers, secret: Secret, what: str = "request") -> Response:
    """Raise for retryable / configuration statuses; return an error Response for the rest."""
    etype, message = _body_error(body)
    text = secret.scrub(f"{backend}: HTTP {status} {etype}: {message}".rstrip(": "))
    if status in RETRYABLE_STATUS or status >= 500:
        raise RetryableError(text, retry_after=parse_retry_after(headers), cause=f"HTTP {status}")
    if status in CONFIG_STATUS:
        raise BackendConfigError(f"{text} ({CONFIG_STATUS[status]}; {what})")
    return Response(text="", finish_reason="error", error=text, cause=f"HTTP {status}" + (f" ({message[:80]})" if message else ""))


def connection_failure(backend: str, exc: BaseException, timed_out: bool) -> RetryableError:
    """A RetryableError for a transport failure, telling "could not connect at all" (httpx's ConnectError:
    refused, no route, unknown host) from a connection that was opened and then dropped or timed out."""
    inner = exc.__cause__ if exc.__cause__ is not None else exc
    name = type(inner).__name__
    if timed_out:
        cause, unreachable = "timed out", False
    elif name == "ConnectError":
        cause, unreachable = "could not connect", True
    else:
        cause, unreachable = "connection dropped", False
    return RetryableError(f"{backend}: {cause} ({name})", cause=cause, unreachable=unreachable)


class ResponseTooLarge(Exception):
    """A response body went past :data:`MAX_RESPONSE_BYTES`; the SDKs report it as a connection error."""


class _BoundedStream(httpx.AsyncByteStream):
    """A response body read at most ``limit`` bytes far."""

    def __init__(self, stream: httpx.AsyncByteStream, limit: int):
        self.stream, self.limit, self.seen = stream, limit, 0

    async def __aiter__(self):
        async for chunk in self.stream:
            self.seen += len(chunk)
            if self.seen > self.limit:
                raise ResponseTooLarge(f"the response body passed {self.limit:,} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()


class BoundedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the body of every single answer (``/chat/completions``, ``/messages``) bounded;
    a batch's results (``/messages/batches/...``) are many answers and stream as long as they are.
    For the SDKs: ``http_client=<SDK>.DefaultAsyncHttpxClient(transport=BoundedTransport())``."""

    BOUNDED = ("/chat/completions", "/messages")

    def __init__(self, limit: int = MAX_RESPONSE_BYTES, **kwargs):
        super().__init__(**kwargs)
        self.limit = limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path.endswith(self.BOUNDED):
            response.stream = _BoundedStream(response.stream, self.limit)
        return response


def too_large(exc: BaseException) -> bool:
    """Whether an SDK's connection error was a body cut off at :data:`MAX_RESPONSE_BYTES`."""
    while exc is not None:
        if isinstance(exc, ResponseTooLarge):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


SCHEMA_REFUSED = ("HTTP 400", "HTTP 422")
SCHEMA_FIELDS = re.compile(r"response_format|json_schema|schema|tool", re.IGNORECASE)
"""How a server says it does not take a request's JSON schema: a 400/422 whose message names the field
(``response_format``, a json_schema, ``tools``); any other 400 is that request's own failure."""


class SdkBackend:
    """What the SDK-based backends share: the key, one async SDK client per running event loop, and the
    fallback to free text for a server that refuses JSON schemas.

    An SDK client holds a connection pool bound to the loop it was created on; ``complete_many`` may
    run each call batch on a fresh loop, so the client is rebuilt when the loop changes.
    """

    def __init__(self, model: str, *, api_key: Secret, base_url: str | None = None):
        self.model = str(model)
        self.base_url = base_url
        self._key = api_key
        self._sdk = None
        self._sdk_loop = None
        self.schema_refused = False  # the endpoint refused a JSON schema once: later requests go without

    default_url = ""  # the provider's own API, used when base_url is unset

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def endpoint(self) -> str:
        return self.base_url or self.default_url

    def secrets(self) -> tuple[Secret, ...]:
        return (self._key,)

    def _make_sdk(self):
        raise NotImplementedError

    async def _send(self, req: Request, timeout_s: float, with_schema: bool) -> Response:
        raise NotImplementedError

    async def send(self, req: Request, timeout_s: float) -> Response:
        """The answer, under the request's schema where the endpoint takes one. A schema request refused with a
        400/422 that names the schema's field is sent again without it; when that one is answered, the endpoint is taken not to do schemas:
        this and every later schema request are answered in free text, marked ``schema_refused`` (the client
        counts them, the caller parses the text its lenient way)."""
        if req.schema is None:
            return await self._send(req, timeout_s, False)
        if not self.schema_refused:
            resp = await self._send(req, timeout_s, True)
            refused = (resp.cause or "").startswith(SCHEMA_REFUSED) and SCHEMA_FIELDS.search(resp.error or "")
            if resp.finish_reason != "error" or not refused:
                return resp
            plain = await self._send(req, timeout_s, False)
            if plain.finish_reason == "error":  # refused for another reason: keep asking with schemas
                return plain
            self.schema_refused = True
            log.warning("%s at %s refused a JSON schema (%s): asking in free text from now on, parsed leniently",
                        self.name, self.endpoint, resp.cause)
            return dataclasses.replace(plain, schema_refused=True)
        return dataclasses.replace(await self._send(req, timeout_s, False), schema_refused=True)

    def _client(self):
        loop = asyncio.get_running_loop()
        if self._sdk is None or self._sdk_loop is not loop:
            self._sdk = self._make_sdk()
            self._sdk_loop = loop
        return self._sdk

    async def aclose(self) -> None:
        sdk, self._sdk, self._sdk_loop = self._sdk, None, None
        if sdk is not None:
            try:
                await sdk.close()
            except Exception:  # closing a pool whose loop is gone is not worth failing a run for
                pass
