"""Any OpenAI-compatible chat completions server through the official ``openai`` SDK: OpenAI itself,
vLLM, llama.cpp, ``transformers serve``.

The SDK's own retries are off (``max_retries=0``): ``LLMClient`` owns retries, so backoff, retry counts
and rate limits are the same for every backend. The SDK client is made per event loop (its connection
pool belongs to the loop that opened it) and closed by ``aclose`` at the end of each ``complete_many``.
"""

from __future__ import annotations

from msm.llm.backends import (
    BoundedTransport,
    ResponseTooLarge,
    SdkBackend,
    connection_failure,
    status_failure,
    too_large,
)
from msm.llm.types import Request, Response


class OpenAIBackend(SdkBackend):
    name = "openai"
    default_url = "https://api.openai.com/v1"

    def _make_sdk(self):
        from openai import AsyncOpenAI, DefaultAsyncHttpxClient

        return AsyncOpenAI(base_url=self.base_url, api_key=self._key.get(), max_retries=0,
                           http_client=DefaultAsyncHttpxClient(transport=BoundedTransport()))

    @staticmethod
    def params(model: str, req: Request) -> dict:
        messages = [{"role": "system", "content": req.system}] if req.system else []
        messages += [dict(m) for m in req.messages]
        params = {"model": model, "messages": messages, "max_tokens": req.max_tokens, "temperature": req.temperature}
        if req.top_p is not None:
            params["top_p"] = req.top_p
        if req.stop:
            params["stop"] = list(req.stop)
        return params

    async def send(self, req: Request, timeout_s: float) -> Response:
        import openai

        # Failures are turned into our exceptions outside the except blocks, so that nothing we raise
        # carries the SDK exception (and its request, with the auth header) as __context__.
        status = conn = None
        try:
            completion = await self._client().chat.completions.create(**self.params(self.model, req), timeout=timeout_s)
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
        return self.parse(completion)

    @staticmethod
    def parse(completion) -> Response:
        usage = completion.usage
        tokens = {"input_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
                  "output_tokens": int(getattr(usage, "completion_tokens", 0) or 0)}
        if not completion.choices:
            return Response("", "error", error="openai: the response had no choices", cause="missing choices", **tokens)
        choice = completion.choices[0]
        msg = choice.message
        refusal = getattr(msg, "refusal", None)
        if refusal or choice.finish_reason == "content_filter":
            return Response(refusal or msg.content or "", "refusal", **tokens)
        finish = "length" if choice.finish_reason == "length" else "stop"
        return Response(msg.content or "", finish, **tokens)
