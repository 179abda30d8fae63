"""A fault-injecting HTTP/1.1 proxy for testing retries against a real OpenAI-compatible server.

It sits in front of a real upstream (``transformers serve`` in the tests) and, for a configurable
fraction of ``POST .../chat/completions`` requests, answers by itself instead of forwarding:

- ``429``: a rate-limit error with ``retry-after`` headers;
- ``500``: an internal server error;
- ``hang``: reads the request and never answers, until the client gives up (its timeout) or ``hang_s``;
- ``drop``: closes the TCP connection without a response (an RST, as a crashed server would);
- ``no_choices``: a 200 whose body has no ``choices`` (a misbehaving server; not retryable);
- ``empty``: a 200 whose answer is empty text (not retryable);
- ``400``: a client error with the server's message (not retryable).

Everything else is forwarded, and **counted**: ``forwarded`` is the number of chat completions that
reached the upstream, ``prompts`` the last user message of each, so tests can assert exactly which
requests a client really sent. A request whose body contains ``refuse_if`` gets a refusal-shaped
completion (the OpenAI ``message.refusal`` field) instead. Faults are spread evenly, not drawn at
random: of every k chat completion requests, round(k * fault_rate) are faulted (from a phase set by
``seed``), and the kinds take turns, so a test knows every kind occurs; one request body is faulted at most ``max_faults_per_body`` times, so a test with retries converges.

Written on raw ``asyncio`` streams (not an ASGI app) because dropping a connection and hanging on one
are things an ASGI framework does not let a handler do. It runs its own event loop in a thread, so a
synchronous test can drive a client against it.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import random
import threading
import time

import httpx

FAULT_KINDS = ("429", "500", "hang", "drop")
BAD_ANSWERS = ("no_choices", "empty", "400")  # answers, not transport faults: the client does not retry them
_HOP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "content-encoding",
                "accept-encoding"}


class FaultProxy:
    def __init__(self, upstream: str, *, fault_rate: float = 0.0, faults=FAULT_KINDS, seed: int = 0,
                 max_faults_per_body: int = 3, hang_s: float = 30.0, delay_s: float = 0.0,
                 refuse_if: str | None = None):
        self.upstream = upstream.rstrip("/")
        self.fault_rate, self.faults, self.max_faults_per_body = fault_rate, tuple(faults), max_faults_per_body
        self.hang_s, self.delay_s, self.refuse_if = hang_s, delay_s, refuse_if
        self._phase = random.Random(seed).random()  # accumulates fault_rate per request; >= 1 -> fault
        self.forwarded = 0
        self.refused = 0
        self.injected: collections.Counter = collections.Counter()
        self.prompts: list[str] = []
        # sha256 of the body of every chat completion forwarded, and of every one answered with a fault: two
        # requests with the same prompt differ in their body when anything else differs (max_tokens, n, ...)
        self.forwarded_bodies: list[str] = []
        self.faulted_bodies: list[str] = []
        self.auth_headers: set[str] = set()
        self._faults_by_body: collections.Counter = collections.Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.base_url = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout_s: float = 10.0) -> str:
        """Start serving on a free 127.0.0.1 port; returns the base URL (with ``/v1``)."""
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(300.0))
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._http.aclose())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise RuntimeError("fault proxy did not start")
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is None:
            return

        async def shutdown():
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            await asyncio.wait_for(self._server.wait_closed(), timeout_s)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout_s)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
            self._loop = None

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
                method, path, _ = line.split(" ", 2)
                headers = [tuple(h.split(":", 1)) for h in header_lines if ":" in h]
                headers = [(k.strip(), v.strip()) for k, v in headers]
                lower = {k.lower(): v for k, v in headers}
                body = await reader.readexactly(int(lower.get("content-length", "0")))
                if method == "POST" and path.endswith("/chat/completions"):
                    action = self._decide(body, lower)
                else:
                    action = "forward"
                if action == "drop":
                    writer.transport.abort()
                    return
                if action == "hang":
                    try:  # until the client closes the connection (its timeout) or hang_s passes
                        await asyncio.wait_for(reader.read(), self.hang_s)
                    except (asyncio.TimeoutError, ConnectionError):
                        pass
                    writer.transport.abort()
                    return
                status, resp_headers, resp_body = await self._respond(action, method, path, headers, body)
                out = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in resp_headers]
                out += [f"content-length: {len(resp_body)}", "connection: keep-alive"]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + resp_body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    def _decide(self, body: bytes, headers: dict) -> str:
        if "authorization" in headers:
            self.auth_headers.add(headers["authorization"])
        if self.refuse_if and self.refuse_if.encode() in body:
            return "refuse"
        digest = hashlib.sha256(body).hexdigest()
        if self.fault_rate <= 0:
            return "forward"
        self._phase += self.fault_rate
        if self._phase >= 1.0 and self._faults_by_body[digest] < self.max_faults_per_body:
            self._phase -= 1.0
            self._faults_by_body[digest] += 1
            kind = self.faults[sum(self.injected.values()) % len(self.faults)]  # round robin: every kind occurs
            self.injected[kind] += 1
            self.faulted_bodies.append(digest)
            return kind
        return "forward"

    async def _respond(self, action: str, method: str, path: str, headers, body: bytes):
        json_type = [("content-type", "application/json")]
        if action == "429":
            err = {"error": {"message": "rate limited (fault proxy)", "type": "rate_limit_error", "code": 429}}
            return 429, json_type + [("retry-after-ms", "100"), ("retry-after", "1")], json.dumps(err).encode()
        if action == "500":
            err = {"error": {"message": "internal error (fault proxy)", "type": "server_error", "code": 500}}
            return 500, json_type, json.dumps(err).encode()
        if action == "400":
            err = {"error": {"message": "bad request (fault proxy)", "type": "invalid_request_error", "code": 400}}
            return 400, json_type, json.dumps(err).encode()
        if action in ("no_choices", "empty"):
            req = json.loads(body)
            choices = [] if action == "no_choices" else [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": ""}}]
            completion = {"id": "chatcmpl-fault-proxy", "object": "chat.completion", "created": int(time.time()),
                          "model": req.get("model", ""), "choices": choices,
                          "usage": {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5}}
            return 200, json_type, json.dumps(completion).encode()
        if action == "refuse":
            self.refused += 1
            req = json.loads(body)
            completion = {
                "id": "chatcmpl-fault-proxy-refusal", "object": "chat.completion", "created": int(time.time()),
                "model": req.get("model", ""),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
            }
            return 200, json_type, json.dumps(completion).encode()
        # forward
        if method == "POST" and path.endswith("/chat/completions"):
            self.forwarded += 1
            self.forwarded_bodies.append(hashlib.sha256(body).hexdigest())
            try:
                self.prompts.append(json.loads(body)["messages"][-1]["content"])
            except (ValueError, KeyError, IndexError, TypeError):
                self.prompts.append("")
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        fwd_headers = [(k, v) for k, v in headers if k.lower() not in _HOP_HEADERS]
        upstream_path = path[len("/v1"):] if path.startswith("/v1") and self.upstream.endswith("/v1") else path
        r = await self._http.request(method, self.upstream + upstream_path, headers=fwd_headers, content=body)
        resp_headers = [(k, v) for k, v in r.headers.items() if k.lower() not in _HOP_HEADERS]
        return r.status_code, resp_headers, r.content
