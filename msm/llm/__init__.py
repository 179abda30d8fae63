"""One client interface over LLM backends, for data generation and judges.

    from msm.llm import Request, make_client
    client = make_client({"backend": "openai", "model": "gpt-4o-mini"}, cache_dir=store / "llm_cache")
    with client.stage_usage() as used:
        responses = client.complete_many([Request(messages=({"role": "user", "content": "Hi"},))], desc="ideas")
    print(used.as_dict())

Backends: ``openai`` (any OpenAI-compatible server), ``anthropic`` (Messages + Message Batches), ``hf``
(a local transformers model). What the client adds around them (cache, retries, limits, usage) is
described in ``msm.llm.client``. API keys are read from the environment variable that the settings
name (``api_key_env``), once, at client creation; settings and logs only ever hold that name.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Mapping
from urllib.parse import urlparse

from msm.errors import MsmError
from msm.llm.client import LLMClient
from msm.llm.types import (
    BATCH_PRICE_FACTOR,
    BackendConfigError,
    BackendUnreachable,
    Prices,
    Request,
    Response,
    RetryableError,
    Secret,
    Usage,
)

__all__ = ["BackendConfigError", "BackendUnreachable", "LLMClient", "Prices", "Request", "Response", "RetryableError",
           "Secret", "Usage", "accepted_settings", "client_from_config", "key_is_sent", "make_client", "prices",
           "settings_problems"]

_COMMON = {"backend", "model", "max_concurrency", "rpm", "tpm", "max_retries", "timeout_s", "price_in_per_mtok",
           "price_out_per_mtok", "price_cache_read_per_mtok", "price_cache_write_per_mtok", "backoff_initial_s",
           "backoff_max_s"}
_BACKEND_KEYS = {
    "openai": {"base_url", "api_key_env", "send_key"},
    "anthropic": {"base_url", "api_key_env", "send_key", "use_batches", "batch_poll_s", "prompt_cache"},
    "hf": {"device", "dtype", "batch_size", "weights"},
}
_DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_PROVIDER_HOST = {"openai": "api.openai.com", "anthropic": "api.anthropic.com"}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
CACHE_PRICE_RATIOS = {"anthropic": (0.1, 1.25), "openai": (0.25, 0.0)}
"""(cache read, cache write) price as a share of the input price, where the settings give none: Anthropic
bills a cache read at a tenth of the input price and a write (5-minute cache) at 1.25 times it; OpenAI caches
prompt prefixes by itself, charges nothing to write them and bills a read at a quarter of the input price
for the gpt-4.1 family (a tenth for gpt-5: set ``price_cache_read_per_mtok`` for other models)."""
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
log = logging.getLogger(__name__)


def key_is_sent(backend: str, settings: Mapping) -> bool:
    """Whether the API key goes with the requests: always to the provider's own API; to any other
    ``base_url`` (a local vLLM, a proxy, a URL from a colleague's config) only when the settings say
    ``send_key: true``, so a key set in the shell never reaches a server it was not meant for."""
    url = settings.get("base_url")
    return not url or urlparse(str(url)).hostname == _PROVIDER_HOST.get(backend) or bool(settings.get("send_key"))


def _warn_plain_http(backend: str, settings: Mapping) -> None:
    url = settings.get("base_url")
    if url and urlparse(str(url)).scheme == "http" and urlparse(str(url)).hostname not in _LOCAL_HOSTS:
        sent = " and the API key" if key_is_sent(backend, settings) else ""
        log.warning("%s base_url %s is plain HTTP to another host: every prompt%s crosses the network "
                    "unencrypted; use https:// unless the network is yours", backend, url, sent)


def _key_problem(backend: str, settings: Mapping, where: str = "llm") -> str | None:
    """Why no API key can be had for these settings, or None (a key is set, or none is needed)."""
    if backend not in _DEFAULT_KEY_ENV:
        return None
    env = settings.get("api_key_env") or _DEFAULT_KEY_ENV[backend]
    if not isinstance(env, str) or not _ENV_NAME.match(env):
        # Never echo the value: someone may have pasted the key itself here.
        return (f"{where}.api_key_env must be the NAME of an environment variable (like {_DEFAULT_KEY_ENV[backend]}), "
                "not the key itself; put the key in that variable")
    if os.environ.get(env) or not key_is_sent(backend, settings):
        return None  # a key is set, or none goes out (another server than the provider's; send_key unset)
    return (f"the {backend} backend needs an API key: set the environment variable {env} "
            f"(or point {where}.api_key_env at the variable that holds it)")


def api_key(backend: str, settings: Mapping) -> Secret:
    """The key to send for these settings (``EMPTY`` where none goes out: see :func:`key_is_sent`), or an
    error naming the variable to set. Read once, where a client is made; never logged."""
    problem = _key_problem(backend, settings)
    if problem:
        raise MsmError(problem)
    env = settings.get("api_key_env") or _DEFAULT_KEY_ENV[backend]
    if not key_is_sent(backend, settings):
        if os.environ.get(env):
            log.info("%s: not sending %s to %s (not %s); set send_key=true if that server needs it", backend, env,
                     settings.get("base_url"), _PROVIDER_HOST[backend])
        return Secret("EMPTY")  # the SDKs insist on some key; local servers ignore it
    return Secret(os.environ.get(env) or "EMPTY")


def accepted_settings(backend: str) -> set[str]:
    """The settings ``make_client`` takes for ``backend`` (empty for an unknown backend)."""
    return _COMMON | _BACKEND_KEYS[backend] if backend in _BACKEND_KEYS else set()


def prices(settings: Mapping) -> Prices:
    """The prices of a settings mapping (or a ``generator`` / ``judge`` config node): the cache prices default
    to :data:`CACHE_PRICE_RATIOS` times the input price; Anthropic's batches cost half."""
    s = {str(k): v for k, v in dict(settings).items()}
    backend = str(s.get("backend"))
    price_in = float(s.get("price_in_per_mtok") or 0.0)
    read_ratio, write_ratio = CACHE_PRICE_RATIOS.get(backend, (0.0, 0.0))
    own = lambda k, ratio: float(s[k]) if s.get(k) is not None else price_in * ratio  # noqa: E731
    return Prices(price_in, float(s.get("price_out_per_mtok") or 0.0), own("price_cache_read_per_mtok", read_ratio),
                  own("price_cache_write_per_mtok", write_ratio),
                  batch_factor=BATCH_PRICE_FACTOR if backend == "anthropic" else 1.0)


def make_client(settings: Mapping, cache_dir: Path | None) -> LLMClient:
    """An ``LLMClient`` from a settings mapping (a plain dict or an OmegaConf node).

    Keys: ``backend`` (openai | anthropic | hf) and ``model`` are required; ``max_concurrency``, ``rpm``,
    ``tpm``, ``max_retries``, ``timeout_s``, ``price_in_per_mtok``, ``price_out_per_mtok``, ``backoff_initial_s``,
    ``backoff_max_s`` for every backend;
    ``base_url``, ``api_key_env``, ``send_key`` (openai, anthropic: see :func:`key_is_sent`); ``use_batches``,
    ``batch_poll_s`` (anthropic);
    ``device``, ``dtype``, ``batch_size``, ``weights`` (hf: the folder to load when it is not ``model``, which
    is then only the model's name: in cache keys, sample seeds and the rows it writes); ``prompt_cache``
    (anthropic, default true: the system prompt is marked for the prompt cache). ``price_cache_read_per_mtok`` / ``price_cache_write_per_mtok`` default to
    :data:`CACHE_PRICE_RATIOS` times the input price. Anything else raises ``MsmError`` naming the key, so a
    typo never silently falls back to a default.
    """
    s = {str(k): v for k, v in dict(settings).items()}
    backend = s.get("backend")
    if backend not in _BACKEND_KEYS:
        raise MsmError(f"unknown llm backend {backend!r}: use one of {sorted(_BACKEND_KEYS)}")
    allowed = _COMMON | _BACKEND_KEYS[backend]
    unknown = sorted(set(s) - allowed)
    if unknown:
        raise MsmError(f"unknown llm settings for backend {backend!r}: {unknown}; allowed: {sorted(allowed)}")
    if not s.get("model"):
        raise MsmError(f"llm settings for backend {backend!r} need a 'model'")

    if backend in _PROVIDER_HOST:
        _warn_plain_http(backend, s)
    if backend == "openai":
        from msm.llm.backends.openai import OpenAIBackend

        impl = OpenAIBackend(s["model"], api_key=api_key(backend, s), base_url=s.get("base_url"))
    elif backend == "anthropic":
        from msm.llm.backends.anthropic import AnthropicBackend

        impl = AnthropicBackend(s["model"], api_key=api_key(backend, s), base_url=s.get("base_url"),
                                use_batches=bool(s.get("use_batches", False)),
                                batch_poll_s=float(s.get("batch_poll_s", 30.0)),
                                prompt_cache=bool(s.get("prompt_cache", True)))
    else:
        from msm.llm.backends.hf import HFBackend

        impl = HFBackend(s["model"], weights=s.get("weights"), device=s.get("device"), dtype=s.get("dtype", "auto"),
                         batch_size=int(s.get("batch_size", 8)))

    # A local model batches what is in flight: keep two batches' worth in flight by default.
    default_concurrency = 2 * impl.batch_size if backend == "hf" else 8
    opt = lambda k: None if s.get(k) in (None, 0) else float(s[k])  # noqa: E731
    return LLMClient(
        impl,
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
        max_concurrency=int(s.get("max_concurrency") or default_concurrency),
        rpm=opt("rpm"),
        tpm=opt("tpm"),
        max_retries=int(s.get("max_retries", 6)),
        timeout_s=float(s.get("timeout_s", 120.0)),
        prices=prices(s),
        backoff_initial_s=float(s.get("backoff_initial_s", 1.0)),
        backoff_max_s=float(s.get("backoff_max_s", 60.0)),
    )


def _config_settings(llm: Mapping) -> dict:
    """The keys of a ``generator`` / ``judge`` config node that its backend takes (one schema serves every
    backend, so each is passed only its own), unset ones left out."""
    s = {str(k): v for k, v in dict(llm).items()}
    allowed = accepted_settings(str(s.get("backend")))
    return {k: (str(v) if k in ("backend", "dtype") else v) for k, v in s.items() if k in allowed and v is not None}


def settings_problems(llm: Mapping, where: str) -> list[str]:
    """What stops a client being made from a ``generator`` / ``judge`` config node (``where`` names it in
    the messages), without making one: checked before a job spends anything."""
    s = _config_settings(llm)
    backend = s.get("backend")
    if backend not in _BACKEND_KEYS:
        return [f"{where}.backend={backend}: not an LLM backend (use one of {sorted(_BACKEND_KEYS)})"]
    problems = [] if s.get("model") else [f"{where}.model is not set: {where}={backend} needs the model to call"]
    key = _key_problem(backend, s, where)
    return problems + ([key] if key else [])


def client_from_config(llm: Mapping, cache_dir: Path | None) -> LLMClient:
    """An ``LLMClient`` for a ``generator`` or ``judge`` config node (see ``msm.config.LLMConfig``)."""
    return make_client(_config_settings(llm), cache_dir=cache_dir)
