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

LLM_CONTENT_KEYS = tuple(k for k in GeneratorConfig.__dataclass_fields__ if k not in LLM_OPERATIONAL and k != "max_tokens")
"""The LLM settings that change what is generated (backend, model, temperature): every field of an LLM's
settings but how it is reached and paid for (``msm.config.LLM_OPERATIONAL``), so changing those reuses the
data (and the LLM response cache)."""


def llm_cache(cfg: DictConfig) -> Path:
    """The LLM response cache, kept beside the artifacts so every job sharing a store shares it."""
    return Path(cfg.paths.store).expanduser().resolve() / "llm_cache"


def llm_client(cfg: DictConfig, role: Role = "generator") -> LLMClient:
    """The client for ``cfg.generator`` or ``cfg.judge``; created only when a stage builds (it reads the API key)."""
    llm = cfg[role]
    if llm.backend in ("offline", "none"):
        raise MsmError(f"this stage needs an LLM {role}: {role}=openai | anthropic | hf ({role}={llm.name} has none)")
    return client_from_config(plain(llm), cache_dir=llm_cache(cfg))


def llm_identity(cfg: DictConfig, role: Role = "generator") -> dict:
    """What of an LLM's settings goes into the key of what it writes (a judge's budget shapes its verdicts too)."""
    keys = LLM_CONTENT_KEYS + (("max_tokens",) if role == "judge" else ())
    return {k: plain(cfg[role][k]) for k in keys}
