"""Any OpenAI-compatible chat completions server through the official ``openai`` SDK: OpenAI itself,
vLLM, llama.cpp, ``transformers serve``.

A request with a JSON schema goes out as ``response_format={"type": "json_schema", ...}`` in strict mode,
which OpenAI enforces and vLLM's server turns into guided decoding; a server that refuses the field gets
free-text requests instead (``msm.llm.backends.SdkBackend.send``), and one that ignores it (``transformers
serve`` does, with a warning in its own log) answers in free text that the caller parses leniently.

The SDK's own retries are off (``max_retries=0``): ``LLMClient`` owns retries, so backoff, retry counts
and rate limits are the same for every backend. The SDK client is made per event loop (its connection
pool belongs to the loop that opened it) and closed by ``aclose`` at the end of each ``complete_many``.
"""

from __future__ import annotations

import dataclasses

from msm.llm.backends import (
    BoundedTransport,
    ResponseTooLarge,
    SdkBackend,
    connection_failure,
    status_failure,
    too_large,
)
from msm.llm.types import Request, Response

SCHEMA_NAME = "answer"
_NOT_IN_STRICT = ("minLength", "maxLength")


def strict_schema(schema):
    """A schema OpenAI's strict mode takes: the same, without string length bounds (it rejects them; vLLM
    would honour them, but one request body serves both). Lists keep their item counts."""
    if isinstance(schema, dict):
        return {k: strict_schema(v) for k, v in schema.items() if k not in _NOT_IN_STRICT}
    if isinstance(schema, list):
        return [strict_schema(v) for v in schema]
    return schema


class OpenAIBackend(SdkBackend):
    name = "openai"
    default_url = "https://api.openai.com/v1"

    def _make_sdk(self):
        from openai import AsyncOpenAI, DefaultAsyncHttpxClient

        return AsyncOpenAI(base_url=self.base_url, api_key=self._key.get(), max_retries=0,
                           http_client=DefaultAsyncHttpxClient(transport=BoundedTransport()))

    def params(self, req: Request, with_schema: bool = True) -> dict:
        """The chat-completions body. The system prompt comes first: OpenAI caches a prompt's stable prefix by
        itself (1,024 tokens and up), so the spec and instructions there are billed at the cached price."""
        messages = [{"role": "system", "content": req.system}] if req.system else []
        messages += [dict(m) for m in req.messages]
        params = {"model": self.model, "messages": messages, "max_tokens": req.max_tokens,
                  "temperature": req.temperature}
        if req.top_p is not None:
            params["top_p"] = req.top_p
        if req.stop:
            params["stop"] = list(req.stop)
        if with_schema and req.schema is not None:
            params["response_format"] = {"type": "json_schema", "json_schema": {
                "name": SCHEMA_NAME, "schema": strict_schema(req.schema_dict()), "strict": True}}
        return params

    async def _send(self, req: Request, timeout_s: float, with_schema: bool) -> Response:
        import openai

        # Failures are turned into our exceptions outside the except blocks, so that nothing we raise
        # carries the SDK exception (and its request, with the auth header) as __context__.
        status = conn = None
        try:
            completion = await self._client().chat.completions.create(**self.params(req, with_schema),
                                                                      timeout=timeout_s)
        except ResponseTooLarge as e:
            return Response("", "error", error=f"{self.name}: {e}", cause="response too large")
        except openai.APIStatusError as e:
            status = (e.status_code, e.body, e.response.headers)
        except openai.APIConnectionError as e:
            if too_large(e):
                return Response("", "error", error=f"{self.name}: {e.__cause__ or e}", cause="response too large")
            conn = connection_failure(self.name, e, isinstance(e, openai.APITimeoutError))
        except openai.APIResponseValidationError as e:  # a garbled 200: treat like a dropped connection
            conn = connection_failure(self.name, e, False)
        if conn is not None:
            raise conn
        if status is not None:
            return status_failure(self.name, *status, self._key,
                                  what=f"model {self.model!r} at {self.endpoint}")
        return dataclasses.replace(self.parse(completion), structured=with_schema and req.schema is not None)

    @staticmethod
    def parse(completion) -> Response:
        """A ``ChatCompletion`` as a Response; ``prompt_tokens`` counts the whole prompt, of which
        ``prompt_tokens_details.cached_tokens`` came from OpenAI's prompt cache (vLLM reports it too)."""
        usage = completion.usage
        details = getattr(usage, "prompt_tokens_details", None)
        tokens = {"input_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
                  "output_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
                  "cache_read_tokens": int(getattr(details, "cached_tokens", 0) or 0)}
        if not completion.choices:
            return Response("", "error", error="openai: the response had no choices", cause="missing choices", **tokens)
        choice = completion.choices[0]
        msg = choice.message
        refusal = getattr(msg, "refusal", None)
        if refusal or choice.finish_reason == "content_filter":
            return Response(refusal or msg.content or "", "refusal", **tokens)
        finish = "length" if choice.finish_reason == "length" else "stop"
        return Response(msg.content or "", finish, **tokens)
