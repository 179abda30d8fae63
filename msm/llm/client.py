"""``LLMClient``: what every caller of an LLM uses, whatever the backend.

It adds, around a backend's single ``send``:

- a disk cache (``msm.llm.cache``) keyed by the full request and its sample index: a rerun of a finished
  stage makes no calls, and a run killed half-way redoes only what is missing;
- de-duplication in flight: identical requests issued together are sent once;
- bounded concurrency (a semaphore) and rpm/tpm limits (``msm.llm.ratelimit``), applied per attempt;
- retries with exponential backoff and jitter (tenacity) on ``RetryableError`` (429, 5xx, timeouts,
  dropped connections), honouring a server's retry-after; a request that still fails becomes a
  ``finish_reason="error"`` response, so one bad prompt does not sink a bulk job (``BackendConfigError``,
  e.g. a rejected key, fails the whole call instead: no later request can succeed either);
- usage and cost counters, per client and per stage (``stage_usage``), with every failed attempt counted
  by cause (HTTP status, timeout, dropped or refused connection) so a stage that got nothing says why;
- fail-fast: when the first ``FAIL_FAST_AFTER`` attempts could not even connect and nothing has ever
  been answered, the whole call fails at once naming the backend and URL (``BackendUnreachable``),
  instead of every request waiting through every retry;
- secret hygiene: every error text is scrubbed of the backend's API key before it is logged or raised.

One client serves one thread at a time; ``complete_many`` runs its own event loop per call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter
from tqdm.auto import tqdm

from msm.llm.cache import ResponseCache
from msm.llm.ratelimit import RateLimiter
from msm.llm.types import (
    BackendConfigError,
    BackendUnreachable,
    BatchResult,
    Prices,
    Request,
    Response,
    RetryableError,
    Usage,
)

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_S = 120.0  # a server asking for longer than this is waited on for this long
FAIL_FAST_AFTER = 3  # attempts that could not connect, with nothing ever answered, before the call gives up
MAX_CHARS_PER_TOKEN = 32  # no tokenizer's token is this long: an answer past max_tokens x this broke its limit


class LLMClient:
    def __init__(
        self,
        backend,
        *,
        cache_dir: Path | None,
        max_concurrency: int = 8,
        rpm: float | None = None,
        tpm: float | None = None,
        max_retries: int = 6,
        timeout_s: float = 120.0,
        price_in_per_mtok: float = 0.0,
        price_out_per_mtok: float = 0.0,
        prices: Prices | None = None,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
    ):
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1 (got {max_concurrency})")
        self.backend = backend
        self.cache = ResponseCache(Path(cache_dir)) if cache_dir is not None else None
        self.max_concurrency = int(max_concurrency)
        self.limiter = RateLimiter(rpm, tpm)
        self.max_retries = int(max_retries)
        self.timeout_s = float(timeout_s)
        # ``prices`` in full (cache reads and writes, the batch factor; see ``msm.llm.prices``), or just the
        # input and output prices, with prompt-cache tokens then billed as input.
        self.prices = prices or Prices(float(price_in_per_mtok), float(price_out_per_mtok),
                                       float(price_in_per_mtok), float(price_in_per_mtok))
        self._backoff = wait_exponential_jitter(multiplier=backoff_initial_s, max=backoff_max_s, jitter=backoff_initial_s)
        self.usage = Usage()
        self._trackers: list[Usage] = []
        self._loop = None
        self._semaphore: asyncio.Semaphore | None = None
        self._inflight: dict[str, asyncio.Future] = {}
        self._answered = 0  # backend answers of any kind: once one came, the server is reachable
        self._unreachable = 0  # attempts that could not connect while nothing had been answered

    @property
    def address(self) -> str:
        """The endpoint the backend answers at (a base_url, the provider's API, or ``local``): part of every
        cache key, so a rerun against another server never reads the first one's answers."""
        return str(getattr(self.backend, "endpoint", "local"))

    @property
    def endpoint(self) -> str:
        """Where the requests go, for messages (never the key): ``openai model 'x' at http://host/v1``."""
        return f"{self.backend.name} model {self.backend.model!r} at {self.address}"

    def failure_note(self, usage: Usage | None = None) -> str:
        """``""``, or why requests failed: the failed requests by cause (missing choices, an HTTP status with
        the server's message, empty content, a timeout), the failed attempts by cause, and where they went."""
        u = usage or self.usage
        if not u.failures and not u.errors:
            return ""
        return (f"{u.failures} request(s) failed: {u.failed_text()}; failed attempts: {u.errors_text()}; "
                f"requests went to {self.endpoint}")

    def __repr__(self) -> str:
        return (f"LLMClient(backend={self.backend!r}, cache={self.cache!r}, max_concurrency={self.max_concurrency}, "
                f"max_retries={self.max_retries}, timeout_s={self.timeout_s})")

    # ------------------------------------------------------------------ bookkeeping

    def _scrub(self, text: str) -> str:
        for secret in self.backend.secrets():
            text = secret.scrub(text)
        return text

    def _count(self, **deltas) -> None:
        self.usage.add(**deltas)
        for tracker in self._trackers:
            tracker.add(**deltas)

    def _attempt_failed(self, e: RetryableError) -> None:
        for usage in (self.usage, *self._trackers):
            usage.add_error(e.cause)
        if e.unreachable and not self._answered:
            self._unreachable += 1
            if self._unreachable >= FAIL_FAST_AFTER:
                raise BackendUnreachable(
                    f"cannot reach {self.endpoint}: the first {self._unreachable} attempts could not connect "
                    f"({self._scrub(str(e))}) and no request has ever been answered. Is the server running, and "
                    "is base_url right (it usually ends in /v1)?")

    def _record(self, resp: Response, price_factor: float = 1.0) -> None:
        """Count one backend answer: tokens and cost always (refusals are billed too), plus its outcome."""
        outcome = {"length": {"truncated": 1}, "refusal": {"refusals": 1}, "error": {"failures": 1}}
        self._count(calls=1, input_tokens=resp.input_tokens, output_tokens=resp.output_tokens,
                    cache_read_tokens=resp.cache_read_tokens, cache_write_tokens=resp.cache_write_tokens,
                    schema_fallbacks=int(resp.schema_refused),
                    cost_usd=price_factor * self.prices.cost(resp.input_tokens, resp.output_tokens,
                                                             resp.cache_read_tokens, resp.cache_write_tokens),
                    **outcome.get(resp.finish_reason, {}))
        if resp.finish_reason == "error":
            for usage in (self.usage, *self._trackers):
                usage.add_failed(resp.cause or "error")

    def _store(self, key: str, req: Request, resp: Response) -> None:
        if self.cache is not None:
            self.cache.put(key, req, resp, backend=self.backend.name, model=self.backend.model, endpoint=self.address)

    @contextmanager
    def stage_usage(self) -> Iterator[Usage]:
        """A Usage that counts only what happens inside the with-block (nested and parallel blocks each
        see their own calls), for per-stage reports."""
        tracker = Usage()
        self._trackers.append(tracker)
        try:
            yield tracker
        finally:  # by identity: Usage is a dataclass, so remove() would drop the first *equal* tracker
            self._trackers = [t for t in self._trackers if t is not tracker]

    def key(self, req: Request) -> str:
        return req.cache_key(self.backend.name, self.backend.model, self.address)

    # ------------------------------------------------------------------ retries

    def _wait(self, state: RetryCallState) -> float:
        wait = self._backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            wait = max(wait, min(float(retry_after), MAX_RETRY_AFTER_S))
        return wait

    def _before_sleep(self, state: RetryCallState) -> None:
        self._count(retries=1)
        exc = state.outcome.exception()
        log.info("%s: attempt %d failed (%s); retrying in %.1fs", self.backend.name, state.attempt_number,
                 self._scrub(str(exc)), state.upcoming_sleep)

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(stop=stop_after_attempt(self.max_retries + 1), wait=self._wait,
                             retry=retry_if_exception_type(RetryableError), before_sleep=self._before_sleep,
                             reraise=True)

    async def retry(self, fn):
        """Await ``fn()`` under the retry policy (used by bulk paths for their own API calls)."""
        async for attempt in self._retrying():
            with attempt:
                return await fn()

    # ------------------------------------------------------------------ single requests

    def _loop_state(self) -> None:
        # asyncio primitives belong to one event loop; complete_many makes a new loop per call.
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._semaphore, self._inflight = loop, asyncio.Semaphore(self.max_concurrency), {}

    async def _send_with_retries(self, req: Request) -> Response:
        try:
            async for attempt in self._retrying():
                with attempt:
                    async with self._semaphore:
                        if self.limiter.active:
                            await self.limiter.acquire(req.estimated_tokens())
                        try:
                            resp = await self._deadlined(self.backend.send(req, self.timeout_s))
                        except RetryableError as e:
                            self._attempt_failed(e)  # counts the cause; raises once the server is plainly down
                            raise
                        self._answered += 1
                        return resp
        except RetryableError as e:
            msg = self._scrub(f"gave up after {self.max_retries + 1} attempts: {e}")
            log.warning("%s request %r failed: %s", self.backend.name, req.tag, msg)
            return Response(text="", finish_reason="error", error=msg, cause=e.cause)
        except BackendConfigError as e:
            raise BackendConfigError(self._scrub(str(e))) from None

    async def _deadlined(self, send):
        """A remote backend's answer within ``timeout_s`` of wall-clock time, whole: the SDKs' timeouts bound
        each read, so a server that drips a byte a second would otherwise hold a request forever. (A local
        backend's generation cannot be cancelled mid-batch, and is not remote: it has no deadline.)"""
        if not hasattr(self.backend, "endpoint"):
            return await send
        try:
            return await asyncio.wait_for(send, self.timeout_s)
        except asyncio.TimeoutError:
            raise RetryableError(f"{self.backend.name}: no whole answer within {self.timeout_s:g}s (timeout_s)",
                                 cause="timed out") from None

    async def acomplete(self, req: Request) -> Response:
        """One response: from the cache, from an identical request already in flight, or from the backend."""
        key = self.key(req)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self._count(cache_hits=1)
            return hit
        self._loop_state()
        pending = self._inflight.get(key)
        if pending is not None:
            resp = await asyncio.shield(pending)
            self._count(cache_hits=1)
            return dataclasses.replace(resp, cached=True)
        fut = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" warnings
        self._inflight[key] = fut
        try:
            resp = _checked(await self._send_with_retries(req), req)
            if resp.error:
                resp.error = self._scrub(resp.error)
            self._record(resp)
            if resp.finish_reason == "refusal":
                log.info("%s refused request %r", self.backend.name, req.tag)
            self._store(key, req, resp)
            fut.set_result(resp)
            return resp
        except BaseException as e:
            if not fut.done():
                fut.cancel() if isinstance(e, asyncio.CancelledError) else fut.set_exception(e)
            raise
        finally:
            self._inflight.pop(key, None)

    # ------------------------------------------------------------------ many requests

    def complete_many(self, reqs: Sequence[Request], desc: str = "llm") -> list[Response]:
        """Responses in the order of ``reqs``. Synchronous: runs an event loop of its own (in a helper thread
        when the caller is already inside one, e.g. a notebook)."""
        reqs = list(reqs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._many_then_close(reqs, desc))
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self._many_then_close(reqs, desc)).result()

    async def _many_then_close(self, reqs: list[Request], desc: str) -> list[Response]:
        try:
            return await self.acomplete_many(reqs, desc)
        finally:
            await self.backend.aclose()  # close connections in the loop that opened them

    async def acomplete_many(self, reqs: Sequence[Request], desc: str = "llm") -> list[Response]:
        reqs = list(reqs)
        before = self.usage.copy()
        bar = tqdm(total=len(reqs), desc=desc, unit="req", mininterval=1.0)
        try:
            if getattr(self.backend, "use_batches", False):
                out = await self._batch(reqs, bar)
            else:
                out = await self._concurrent(reqs, bar)
        finally:
            bar.close()
        used = self.usage - before
        log.info("%s: %d requests; %s", desc, len(reqs), used.as_dict())
        if used.failures:
            log.warning("%s: %d of %d requests failed after retries (failed attempts: %s) at %s", desc,
                        used.failures, len(reqs), used.errors_text(), self.endpoint)
        return out

    async def _concurrent(self, reqs: list[Request], bar) -> list[Response]:
        async def one(req: Request) -> Response:
            resp = await self.acomplete(req)
            bar.update(1)
            return resp

        tasks = [asyncio.ensure_future(one(r)) for r in reqs]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _batch(self, reqs: list[Request], bar) -> list[Response]:
        """Bulk path (Anthropic Message Batches): uncached requests go out as one batch, at batch prices.

        The batch id is journalled under ``<cache>/batches/`` until its results are in, so a job killed
        while waiting re-attaches to the same batch on rerun instead of paying for it twice.
        """
        keys = [self.key(r) for r in reqs]
        done: dict[str, Response] = {}
        todo: dict[str, Request] = {}
        for key, req in zip(keys, reqs):
            if key in done or key in todo:
                continue
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                done[key] = hit
            else:
                todo[key] = req
        self._count(cache_hits=len(reqs) - len(todo))
        bar.update(len(reqs) - len(todo))
        if todo:
            journal = None
            if self.cache is not None:
                batch_id = hashlib.sha256("\n".join(sorted(todo)).encode()).hexdigest()
                journal = self.cache.root / "batches" / f"{batch_id}.json"
            try:
                result = await self.backend.run_batch(todo, retry=self.retry, journal=journal)
            except BackendConfigError as e:
                raise BackendConfigError(self._scrub(str(e))) from None
            except RetryableError as e:  # the batch could not be submitted or polled: every request errors
                msg = self._scrub(f"{self.backend.name} batch failed after {self.max_retries + 1} attempts: {e}")
                log.warning(msg)
                result = BatchResult(responses={k: Response("", "error", error=msg, cause=e.cause) for k in todo})
            for key, req in todo.items():
                missing = Response("", "error", error="missing from the batch results", cause="missing from the batch")
                resp = _checked(result.responses.get(key) or missing, req)
                if resp.error:
                    resp.error = self._scrub(resp.error)
                self._record(resp, price_factor=result.price_factor)
                self._store(key, req, resp)
                done[key] = resp
            bar.update(len(todo))
        seen: set[str] = set()
        out = []
        for key in keys:  # the first occurrence of a key carries the answer; repeats are marked cached
            resp = done[key]
            out.append(resp if key not in seen else dataclasses.replace(resp, cached=True))
            seen.add(key)
        return out


def _checked(resp: Response, req: Request) -> Response:
    """An answer with no text is a failed request (``empty content``), whatever its finish reason said: it is
    counted, never cached, and asked again by a rerun. An answer longer than ``max_tokens`` allows (at
    :data:`MAX_CHARS_PER_TOKEN`) is cut there and marked cut off (``length``), counted as truncated: what the
    server sent past its limit is never kept."""
    if resp.ok and not resp.text.strip():
        return dataclasses.replace(resp, finish_reason="error", error="the answer was empty", cause="empty content")
    limit = req.max_tokens * MAX_CHARS_PER_TOKEN
    if resp.ok and len(resp.text) > limit:
        log.warning("an answer of %d characters to a request for at most %d tokens: cut to %d", len(resp.text),
                    req.max_tokens, limit)
        return dataclasses.replace(resp, text=resp.text[:limit], finish_reason="length")
    return resp
