"""What the stage builders share: plain settings from config nodes, and LLM clients for a role."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from omegaconf import DictConfig

from msm.config import LLM_OPERATIONAL, GeneratorConfig, plain
from msm.errors import MsmError
from msm.llm import LLMClient, client_from_config

__all__ = ["plain", "llm_cache", "llm_client", "llm_identity", "LLM_CONTENT_KEYS"]

Role = Literal["generator", "judge"]

ROLE_CONTENT_KEYS = {"generator": ("structured",), "judge": ("max_tokens",)}
"""Content keys of one role only: the generator's structured answers, the judge's budget (it shapes verdicts)."""
LLM_CONTENT_KEYS = tuple(k for k in GeneratorConfig.__dataclass_fields__
                         if k not in LLM_OPERATIONAL and k not in ROLE_CONTENT_KEYS["generator"] + ("max_tokens",))
"""The LLM settings that change what is generated (backend, model, temperature): every field of an LLM's
settings but how it is reached and paid for (``msm.config.LLM_OPERATIONAL``), so changing those reuses the
data (and the LLM response cache)."""


def llm_cache(cfg: DictConfig) -> Path:
    """The LLM response cache, kept beside the artifacts so every job sharing a store shares it."""
    return Path(cfg.paths.store).expanduser().resolve() / "llm_cache"


def llm_client(cfg: DictConfig, role: Role = "generator", weights: tuple[str, Path] | None = None) -> LLMClient:
    """The client for ``cfg.generator`` or ``cfg.judge``; created only when a stage builds (it reads the API key).
    ``weights``: (name, folder) of weights in the store to load in place of the configured name (the embedded
    model's). The name (their store key) is what cache keys, sample seeds and the rows written carry, so the
    same settings write the same data wherever the store is."""
    llm = cfg[role]
    if llm.backend in ("offline", "none"):
        raise MsmError(f"this stage needs an LLM {role}: {role}=openai | anthropic | hf ({role}={llm.name} has none)")
    settings = plain(llm)
    if weights is not None:
        settings["model"], settings["weights"] = weights[0], str(weights[1])
    return client_from_config(settings, cache_dir=llm_cache(cfg))


def llm_identity(cfg: DictConfig, role: Role = "generator") -> dict:
    """What of an LLM's settings goes into the key of what it writes (a judge's budget shapes its verdicts too)."""
    keys = LLM_CONTENT_KEYS + ROLE_CONTENT_KEYS[role]
    return {k: plain(cfg[role][k]) for k in keys}
