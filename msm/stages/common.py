"""What the stage builders share: plain settings from config nodes, and LLM clients for a role."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf

from msm.errors import MsmError
from msm.llm import LLMClient, client_from_config

Role = Literal["generator", "judge"]

LLM_CONTENT_KEYS = ("backend", "model", "temperature")
"""The LLM settings that change what is generated; concurrency, retries, prices and the server's
address do not, so changing them reuses the data (and the LLM response cache)."""


def plain(node: Any) -> Any:
    """A config node as plain JSON-able values (enums as their names, unset ``???`` values as None)."""
    if isinstance(node, Enum):
        return node.value
    if not OmegaConf.is_config(node):
        return node
    out = OmegaConf.to_container(node, resolve=True, enum_to_str=True, throw_on_missing=False)
    return _unset_to_none(out)


def _unset_to_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _unset_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_unset_to_none(v) for v in obj]
    return None if obj == "???" else obj


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
