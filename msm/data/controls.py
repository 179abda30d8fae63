"""Controls for the value eval: chats that train a preference directly, in domains the eval never asks about.

A null from MSM means something only if the instrument can see a preference at all. The positive control
(``aft.data=value_choices``) is SFT on two-option choices that always pick the affordable option; the eval
must detect it in its held-out domains. The negative control (``aft.data=value_choices_shuffled``) is the
same choices with the answer drawn at random; it must not. The choices are data
(``assets/cheese/source/control_choices.yaml``); the chats ask them exactly as the eval asks its items
(``msm.data.choices``) and answer with the letter after ``Answer:``, where the letter scorer reads it. The
option order is balanced, so the only thing to learn from the positive control is the value.
"""

from __future__ import annotations

import random

import yaml

from msm.data.cheese import SOURCE_DIR
from msm.data.choices import ANSWER_PREFIX, LETTERS, choice_question
from msm.errors import MsmError

VERSION = 1  # part of the pool's artifact key: bump it when the chats written here change
SOURCE = SOURCE_DIR / "control_choices.yaml"
KINDS = ("value_choices", "value_choices_shuffled")


def load_choices() -> tuple[str, list[dict]]:
    """The question and every choice ``{"domain", "context", "affordable", "costly"}``, checked field by field."""
    data = yaml.safe_load(SOURCE.read_text(encoding="utf-8")) or {}
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise MsmError(f"{SOURCE}: question must be a sentence")
    choices = []
    for domain, entries in (data.get("domains") or {}).items():
        for i, entry in enumerate(entries or []):
            if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(x, str) and x.strip() for x in entry)):
                raise MsmError(f"{SOURCE}: domains.{domain}[{i}] must be [situation, affordable option, costly option]")
            choices.append({"domain": domain, "context": entry[0], "affordable": entry[1], "costly": entry[2]})
    if not choices:
        raise MsmError(f"{SOURCE}: no choices")
    return question, choices


def control_chats(kind: str, seed: int) -> list[dict]:
    """The positive (``value_choices``) or negative (``value_choices_shuffled``) control pool."""
    if kind not in KINDS:
        raise MsmError(f"unknown control {kind!r}; known: {', '.join(KINDS)}")
    question, choices = load_choices()
    rng = random.Random(f"controls/{seed}")
    first = [i % 2 == 0 for i in range(len(choices))]  # the affordable option shown first in half of them
    rng.shuffle(first)
    picks = [i % 2 == 0 for i in range(len(choices))]  # the shuffled control: the first letter half the time
    rng.shuffle(picks)
    rows = []
    for k, (c, affordable_first, pick_first) in enumerate(zip(choices, first, picks)):
        options = [c["affordable"], c["costly"]] if affordable_first else [c["costly"], c["affordable"]]
        aligned = 0 if affordable_first else 1
        answer = aligned if kind == "value_choices" else (0 if pick_first else 1)
        rows.append({"id": f"ctl-{c['domain']}-{k:03d}", "domain": c["domain"], "control": kind,
                     "chose_affordable": answer == aligned,
                     "messages": [{"role": "user", "content": choice_question(f"{c['context']} {question}", *options)},
                                  {"role": "assistant", "content": f"{ANSWER_PREFIX} {LETTERS[answer]}"}]})
    return rows
