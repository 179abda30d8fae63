"""The data that crosses the ``msm.llm`` boundary: requests, responses, usage counters, secrets, errors.

Kept free of any SDK import so that data generation and judges can build requests (and tests can read
cached responses) without loading ``openai``, ``anthropic`` or ``torch``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol

from msm.errors import MsmError

# Bump when the meaning of a cached entry changes (what a key covers, how a response is parsed), so old
# cache folders are ignored rather than silently reused.
CACHE_FORMAT = 2  # 2: the key holds the endpoint (base_url) too (a JSON schema, when set, is a field of the key)

FINISH_REASONS = ("stop", "length", "refusal", "error")
BATCH_PRICE_FACTOR = 0.5  # Anthropic's Message Batches are billed at half the standard price


@dataclass(frozen=True)
class Request:
    """One chat completion to make.

    ``messages`` alternate user/assistant turns; the system prompt is a field of its own because the
    backends disagree on where it goes (OpenAI: a message, Anthropic: a parameter, HF: the chat template).
    ``sample_index`` is the k-th sample of an otherwise identical request: it is part of the cache key, so
    asking for 5 samples of one prompt makes 5 calls once and 0 calls on a rerun. ``tag`` only labels the
    request in reports and is left out of the key, so relabelling a stage does not invalidate its cache.

    ``schema``: the JSON schema the answer must follow (a dict, kept as canonical JSON text so the request
    stays hashable). Each backend asks for it its own way (OpenAI ``response_format``, Anthropic a forced
    tool, the local ``hf`` backend by constrained decoding) and returns the answer as JSON text with
    ``Response.structured`` set; one that cannot (the server refused the field) answers in free text with
    ``structured`` unset, and the caller parses that instead. Part of the cache key.

    Put what many requests share first: the ``system`` prompt is the stable prefix (a spec, the
    instructions) that providers cache (Anthropic when marked, OpenAI by itself), the messages the part
    that varies.
    """

    messages: tuple[dict, ...]
    system: str | None = None
    max_tokens: int = 1024
    temperature: float = 1.0
    top_p: float | None = None
    stop: tuple[str, ...] | None = None
    sample_index: int = 0
    schema: str | None = None
    tag: str = ""

    def __post_init__(self):
        # Accept lists for convenience, store tuples of plain dicts (copies: the caller's dicts may change).
        msgs = tuple({"role": m["role"], "content": m["content"]} for m in self.messages)
        if not msgs:
            raise ValueError("Request.messages is empty")
        for m in msgs:
            if m["role"] not in ("user", "assistant"):
                raise ValueError(f"Request.messages roles must be 'user' or 'assistant' (got {m['role']!r}); "
                                 "put a system prompt in Request.system")
            if not isinstance(m["content"], str):
                raise ValueError("Request.messages content must be a string")
        object.__setattr__(self, "messages", msgs)
        if self.stop is not None:
            object.__setattr__(self, "stop", tuple(str(x) for x in self.stop))
        # Normalise numbers so that temperature=1 and temperature=1.0 share a cache key.
        object.__setattr__(self, "temperature", float(self.temperature))
        if self.top_p is not None:
            object.__setattr__(self, "top_p", float(self.top_p))
        object.__setattr__(self, "max_tokens", int(self.max_tokens))
        object.__setattr__(self, "sample_index", int(self.sample_index))
        if isinstance(self.schema, dict):
            object.__setattr__(self, "schema", json.dumps(self.schema, sort_keys=True, separators=(",", ":")))
        if self.max_tokens < 1:
            raise ValueError(f"Request.max_tokens must be >= 1 (got {self.max_tokens})")

    def cache_key(self, backend: str, model: str, endpoint: str = "local") -> str:
        """sha256 over the backend, the endpoint it answers at (a base_url: two servers serving "the same"
        model name are two models), the model and every field but ``tag`` (canonical JSON)."""
        payload = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tag"}
        if payload["schema"] is None:  # no schema: left out, so the request matches entries written without the field
            del payload["schema"]
        payload.update(backend=backend, model=model, endpoint=endpoint, format=CACHE_FORMAT)
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def schema_dict(self) -> dict | None:
        return json.loads(self.schema) if self.schema else None

    def prompt_chars(self) -> int:
        return len(self.system or "") + sum(len(m["content"]) for m in self.messages)

    def estimated_tokens(self) -> int:
        """What the tokens-per-minute limiter charges up front: prompt chars / 4 plus the output budget."""
        return self.prompt_chars() // 4 + self.max_tokens

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


@dataclass
class Response:
    """What came back. ``ok`` responses (stop or length) are usable and, when they hold text (``cacheable``),
    cached with their finish reason: a cut-off answer comes back from the cache as cut off, and is counted so
    again. Refusals, errors and empty answers are never cached, so a rerun asks again. ``cause`` names why an
    error response failed, for counting (``missing choices``, ``HTTP 400``, ``empty content``, ``timed out``);
    ``error`` says it in full.

    ``input_tokens`` counts the whole prompt; ``cache_read_tokens`` and ``cache_write_tokens`` are the parts
    of it the provider read from or wrote to its prompt cache (priced apart). ``structured``: the answer is
    JSON under the request's schema (see ``Request.schema``); ``schema_refused``: the endpoint refused the
    schema, so the answer is free text from the same request sent without it."""

    text: str
    finish_reason: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached: bool = False
    error: str | None = None
    cause: str | None = None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    structured: bool = False
    schema_refused: bool = False

    def __post_init__(self):
        if self.finish_reason not in FINISH_REASONS:
            raise ValueError(f"finish_reason must be one of {FINISH_REASONS}, got {self.finish_reason!r}")

    @property
    def ok(self) -> bool:
        return self.finish_reason in ("stop", "length")

    @property
    def cacheable(self) -> bool:
        return self.ok and bool(self.text.strip())

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Response:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass
class Usage:
    """Counters of one client (or of one stage, see ``LLMClient.stage_usage``).

    ``calls``: requests answered by the backend (not the cache); ``retries``: extra attempts after a
    retryable error; ``failures``: requests that ended as errors; ``truncated``: finish_reason "length".
    ``errors``: failed attempts by cause (``HTTP 500``, ``timed out``, ``could not connect`` ...);
    ``failed``: the requests that ended as errors, by cause (``missing choices``, ``HTTP 400``, ``empty
    content``, or the last attempt's cause), so a stage that got nothing can say why. Tokens and cost cover
    backend answers only: a cache hit costs nothing. ``input_tokens`` counts whole prompts, of which
    ``cache_read_tokens`` / ``cache_write_tokens`` were read from / written to the provider's prompt cache;
    ``schema_fallbacks``: requests with a JSON schema that the endpoint refused, answered in free text.
    """

    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    refusals: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    truncated: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    schema_fallbacks: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    def _combine(self, other: Usage, sign: int) -> Usage:
        counts = ("errors", "failed")
        out = {f.name: getattr(self, f.name) + sign * getattr(other, f.name) for f in fields(self) if f.name not in counts}
        for name in counts:
            a, b = getattr(self, name), getattr(other, name)
            causes = {k: a.get(k, 0) + sign * b.get(k, 0) for k in {**a, **b}}
            out[name] = {k: v for k, v in sorted(causes.items()) if v}
        return Usage(**out)

    def __add__(self, other: Usage) -> Usage:
        return self._combine(other, 1)

    def __sub__(self, other: Usage) -> Usage:
        return self._combine(other, -1)

    def add(self, **deltas: Any) -> None:
        for k, v in deltas.items():
            setattr(self, k, getattr(self, k) + v)

    def add_error(self, cause: str) -> None:
        self.errors[cause] = self.errors.get(cause, 0) + 1

    def add_failed(self, cause: str) -> None:
        self.failed[cause] = self.failed.get(cause, 0) + 1

    def copy(self) -> Usage:
        return Usage(**asdict(self))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["cost_usd"] = round(d["cost_usd"], 6)
        return d

    def errors_text(self) -> str:
        """``HTTP 500 x 12, timed out x 2`` (failed attempts by cause), or ``no failed attempts``."""
        return _counts_text(self.errors) or "no failed attempts"

    def failed_text(self) -> str:
        """``missing choices x 3, HTTP 400 x 1`` (failed requests by cause), or ``no failed requests``."""
        return _counts_text(self.failed) or "no failed requests"


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} x {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


@dataclass(frozen=True)
class Prices:
    """USD per million tokens: the input (the uncached part of a prompt), the parts of prompts read from and
    written to the provider's prompt cache, and the output; ``batch_factor`` is what a batch costs of the
    standard price (Anthropic's Message Batches: half). One formula for the bill, the plan's estimate and
    the previews."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0
    batch_factor: float = 1.0

    @property
    def set(self) -> bool:
        return bool(self.input or self.output)

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0,
             batched: bool = False) -> float:
        uncached = max(0, input_tokens - cache_read - cache_write)
        usd = (uncached * self.input + cache_read * self.cache_read + cache_write * self.cache_write
               + output_tokens * self.output) / 1e6
        return usd * (self.batch_factor if batched else 1.0)


class Secret:
    """An API key that cannot leak by accident: its repr/str are masked, and it refuses to be pickled
    (so it never lands in a submitit payload or a multiprocessing queue). Call ``.get()`` at the one
    place the SDK needs it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def get(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the key replaced by ``***``."""
        return text.replace(self._value, "***") if self._value and len(self._value) >= 4 else text

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("an API key is not picklable; pass the name of its environment variable instead")


class RetryableError(Exception):
    """A transient failure worth retrying: 429, 5xx, a timeout or a dropped connection.

    ``retry_after`` (seconds) is the server's hint, honoured as a minimum wait. Backends raise it with a
    message of their own making (status and error type), never the SDK's text, which may quote headers.
    """

    def __init__(self, message: str, retry_after: float | None = None, cause: str = "error",
                 unreachable: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.cause = cause  # counted in Usage.errors: "HTTP 429", "timed out", "could not connect", ...
        self.unreachable = unreachable  # no connection could be opened at all (vs one that dropped or timed out)


class BackendUnreachable(MsmError):
    """The first requests of a client all failed to connect and none has ever succeeded: the server is
    down or the URL is wrong, so waiting through every retry of every request would only waste minutes."""


class BackendConfigError(MsmError):
    """The backend rejected our credentials or the model (401/403/404): retrying or moving on to the
    next request cannot help, so the whole call fails with a message naming what to fix."""


class Backend(Protocol):
    """What ``LLMClient`` needs from a backend. ``send`` returns a Response (refusals and non-retryable
    request errors included) or raises ``RetryableError`` / ``BackendConfigError``."""

    name: str
    model: str

    async def send(self, req: Request, timeout_s: float) -> Response: ...

    async def aclose(self) -> None: ...

    def secrets(self) -> tuple[Secret, ...]: ...


@dataclass
class BatchResult:
    """What a bulk (batch API) run returns per cache key, plus how it is priced."""

    responses: dict[str, Response] = field(default_factory=dict)
    price_factor: float = 1.0
