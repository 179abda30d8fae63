"""Run a FastAPI app with uvicorn on a background thread, for the local test servers."""

from __future__ import annotations

import collections
import contextlib
import itertools
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BackgroundServer:
    """Subclasses set ``self.app`` (and may set ``url_suffix``, e.g. "/v1") before ``start``."""

    url_suffix = ""

    def start(self, port: int, timeout_s: float = 15.0) -> str:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=type(self).__name__, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not start on port {port}")
            time.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{port}{self.url_suffix}"
        return self.base_url

    @contextlib.contextmanager
    def running(self):
        """Serve on a free loopback port for the ``with`` block, and stop afterwards whatever happens."""
        self.start(free_port())
        try:
            yield self
        finally:
            self.stop()

    def stop(self, timeout_s: float = 10.0) -> None:
        if getattr(self, "_server", None) is not None:
            self._server.should_exit = True
            self._thread.join(timeout_s)
            self._server = None


def chat_completion(model: str, text: str, finish: str, prompt: str, response_id: str) -> dict:
    """An OpenAI chat-completion response body (usage estimated at 4 characters a token)."""
    return {"id": f"chatcmpl-{response_id}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(text) // 4,
                      "total_tokens": (len(prompt) + len(text)) // 4}}


class ScriptedChatServer(BackgroundServer):
    """An OpenAI-compatible ``/v1/chat/completions`` whose answers come from :meth:`reply`.

    ``reply(body)`` returns ``(step, text, finish_reason)`` for the request body; ``calls`` counts the
    requests answered per step. A step of ``"unknown"`` is answered with an HTTP 400 carrying ``text``:
    a scripted server must never invent an answer to a prompt it was not written for.
    """

    url_suffix = "/v1"

    def __init__(self):
        self.calls: collections.Counter = collections.Counter()
        self._ids = itertools.count()
        self.app = self._make_app()
        self.base_url = ""

    def reply(self, body: dict) -> tuple[str, str, str]:
        raise NotImplementedError

    def _make_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            step, text, finish = self.reply(body)
            self.calls[step] += 1
            if step == "unknown":
                return JSONResponse({"error": {"type": "invalid_request_error", "message": text}}, status_code=400)
            prompt = "".join(m["content"] for m in body["messages"])
            return chat_completion(body["model"], text, finish, prompt, str(next(self._ids)))

        return app
