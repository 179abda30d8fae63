"""What the stage builders share: plain settings from config nodes, LLM clients for a role, and the
choices a job leaves to its spec (``eval=auto``, ``aft.data=auto``)."""

from __future__ import annotations

import copy
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf

from msm.config import AftData, EvalKind
from msm.errors import MsmError
from msm.llm import LLMClient, client_from_config
from msm.specs import Spec

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


def resolve_auto(cfg: DictConfig, spec: Spec) -> DictConfig:
    """``eval=auto`` and ``aft.data=auto`` made concrete from the spec: the eval it says it is for (its
    ``evaluation:``; the value eval when it names none), and the fixed cheese chats for a cheese spec or
    rows generated from the spec otherwise. Explicit choices are left alone."""
    if cfg.eval.kind != EvalKind.auto and cfg.aft.data != AftData.auto:
        return cfg
    cfg = copy.deepcopy(cfg)
    if cfg.eval.kind == EvalKind.auto:
        kind = spec.evaluation or EvalKind.cheese.value
        cfg.eval.kind, cfg.eval.name = kind, f"auto:{kind}"
    if cfg.aft.data == AftData.auto:
        cfg.aft.data = AftData.cheese if spec.evaluation == EvalKind.cheese else AftData.generated
    return cfg
