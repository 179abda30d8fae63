"""One redaction pass over everything msm writes: nothing shaped like an API key leaves the process.

Keys belong in the environment, named by ``api_key_env``; the LLM client scrubs its own key from its
errors. That does not cover a key pasted into the wrong field (``generator.api_key_env=sk-...``, a
note, a W&B group), where Hydra would save it in ``.hydra/`` and W&B would upload it with the run. So
every writer applies :func:`scrub`: the JSON and text writers (``msm.jsonl``), the log handlers, the
W&B config, the command line W&B records, the error lines a job prints, and Hydra's own saved configs
(``msm.redaction``: the log filter and a Hydra callback). What counts as a key:

- the value of any environment variable whose name says it holds a secret (``*_API_KEY``, ``*_TOKEN``,
  ``*_SECRET``, ``*PASSWORD``, ``*_KEY``), whatever it looks like, wherever it appears;
- anything shaped like a provider's key (``KEY_SHAPES``: OpenAI/Anthropic ``sk-``, Hugging Face
  ``hf_``, GitHub, Slack, AWS, Google), or a bearer token.

Matches become ``<redacted>``. Commit hashes and artifact keys are plain hex and are left alone.
"""

from __future__ import annotations

import os
import re
from typing import Any, Callable

REDACTED = "<redacted>"
KEY_SHAPES = re.compile(
    r"\bsk-[A-Za-z0-9_\-]{16,}"  # OpenAI, Anthropic (sk-ant-...), OpenAI project keys (sk-proj-...)
    r"|\bhf_[A-Za-z0-9]{20,}"  # Hugging Face tokens
    r"|\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}"  # GitHub
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bAIza[0-9A-Za-z_\-]{35}"  # Google API keys
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/\-]{16,}=*"  # an Authorization header's token
)
_SECRET_ENV = re.compile(r"(API_?KEY|_KEY|TOKEN|SECRET|PASSWORD|PASSWD)$", re.IGNORECASE)
MIN_SECRET_CHARS = 8  # shorter environment values ("EMPTY", "1") would redact ordinary words


def env_secrets() -> list[str]:
    """Values of environment variables whose names say they are secrets, longest first (so a key that
    contains another is replaced whole). Read on every call: a test or a launcher may set one late."""
    values = {v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= MIN_SECRET_CHARS}
    return sorted(values, key=len, reverse=True)


def scrubber() -> Callable[[str], str]:
    """:func:`scrub_text` with the environment read once, for a writer that scrubs many lines."""
    values = env_secrets()

    def scrub_one(text: str) -> str:
        for value in values:
            if value in text:
                text = text.replace(value, REDACTED)
        return KEY_SHAPES.sub(REDACTED, text)

    return scrub_one


def scrub_text(text: str) -> str:
    return scrubber()(text)


def scrub(obj: Any) -> Any:
    """``obj`` with every secret replaced, recursing through dicts (keys too), lists and tuples."""
    if isinstance(obj, str):
        return scrub_text(obj)
    if isinstance(obj, dict):
        return {scrub(k): scrub(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(scrub(v) for v in obj)
    return obj
