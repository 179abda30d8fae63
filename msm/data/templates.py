"""The generation prompts: Markdown files under ``msm/data/prompts`` with ``string.Template`` placeholders.

A file holds a system part and a user part, separated by the line ``=== user ===``. The system part is
what many requests share (the spec, the instructions, the answer's format) and the user part what varies
(a domain, an idea, a question): providers cache a prompt's stable prefix (Anthropic where it is marked,
OpenAI by itself), so the spec is billed in full once per step rather than once per request.

How a step asks for its answer depends on whether it is read from JSON under the step's schema or from free
text: ``$answer`` in a template is filled from ``prompts/answers.yaml`` (``msm.data.schemas`` holds the
schemas). Template files and the answers file are part of the data stages' keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

import yaml

from msm.errors import MsmError

PROMPT_DIR = Path(__file__).parent / "prompts"
ANSWERS_FILE = PROMPT_DIR / "answers.yaml"
SEPARATOR = "\n=== user ===\n"


@dataclass(frozen=True)
class Prompt:
    """One template file, split into its system and user parts."""

    path: Path
    system: str
    user: str

    @classmethod
    def load(cls, path: Path) -> Prompt:
        text = path.read_text(encoding="utf-8")
        system, sep, user = text.partition(SEPARATOR)
        return cls(path, system, user) if sep else cls(path, "", system)

    @property
    def text(self) -> str:
        return self.system + SEPARATOR + self.user

    def render(self, fields: dict) -> tuple[str | None, str]:
        """(system or None, user) with every placeholder filled; a missing one names the file."""
        try:
            system, user = (Template(t).substitute({k: str(v) for k, v in fields.items()}).strip()
                            for t in (self.system, self.user))
        except (KeyError, ValueError) as e:
            raise MsmError(f"{self.path}: bad placeholder {e}; available: {', '.join(sorted(fields))}") from None
        return system or None, user


def answers() -> dict[str, dict[str, str]]:
    """``{step: {"text": ..., "json": ...}}``: the line that asks for a step's answer in each form."""
    return yaml.safe_load(ANSWERS_FILE.read_text(encoding="utf-8"))


def answer_line(step: str, structured: bool) -> str:
    forms = answers().get(step)
    if not forms:
        raise MsmError(f"{ANSWERS_FILE}: no entry for the step {step!r}")
    return forms["json" if structured else "text"].strip()
