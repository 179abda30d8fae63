"""The JSON schemas of the generation steps that expect a list or fields, and how their answers are read.

With ``generator.structured`` (the default) each such request carries its step's schema: OpenAI and vLLM
enforce it (``response_format``), Anthropic fills it as a forced tool's input, and the local ``hf`` backend
decodes under it (llguidance), so a small open model's answer parses whatever it writes. The string bounds
(``maxLength``) keep a local model's JSON inside the request's ``max_tokens`` (a token is at least one
character, so ``json_budget`` tokens always hold a whole answer); API backends are sent the schema
without them.

An answer that was asked for as JSON and is not JSON (a server that ignores the field, or one cut off by
``max_tokens``) is read leniently as free text (``msm.data.listparse``), and counted: ``json_failures`` in
each step's report, beside ``parse_failures`` (answers from which nothing at all could be read).
"""

from __future__ import annotations

from msm.data.aftgen_steps import FILTER_CATEGORIES

NAME = r"^[A-Z][A-Za-z0-9 ,'&()/-]*$"
"""A short name: a capital first, then words (no code, paths, markup or underscores)."""
_NOT_PROSE = r"{}\[\]<>_\\|=*#@$~`"


def prose(min_words: int) -> str:
    """A sentence or two of at least ``min_words`` words: a letter or quote first, words one space apart,
    none of the characters of code or markup."""
    word = f"[^{_NOT_PROSE} ]+"  # the word count unrolled: llguidance cannot bound a counted repeat by length
    return f"^[A-Za-z\"'(][^{_NOT_PROSE} ]*" + f"(?: {word})" * (min_words - 1) + f"(?: {word})*$"


ITEMS = {"domains": (3, 60, NAME), "subdomains": (3, 100, NAME), "assertions": (20, 240, prose(4)),
         "doc_types": (3, 60, NAME), "ideas": (30, 240, prose(5)), "aft_domains": (3, 60, NAME),
         "questions": (10, 200, prose(3))}
"""Each list step's item: (fewest characters, most characters, pattern; the fewest words the step keeps,
``msm.data.docgen_steps.MIN_WORDS``). A small model decoding under the
schema otherwise fills it with code-like strings (measured on SmolLM2-135M: ``./user3.json``, ``{a}*{b}``);
the bounds keep its JSON inside the request's ``max_tokens``."""
ITEM_CHARS = {step: most for step, (_, most, _) in ITEMS.items()}
REASON_CHARS = 200


def list_schema(n: int, step: str) -> dict:
    """``{"items": [n strings]}``: a list step's answer, its items as :data:`ITEMS` says."""
    fewest, most, pattern = ITEMS[step]
    item = {"type": "string", "minLength": fewest, "maxLength": most, "pattern": pattern}
    return {"type": "object", "additionalProperties": False, "required": ["items"],
            "properties": {"items": {"type": "array", "minItems": n, "maxItems": n, "items": item}}}


def json_budget(n: int, item_chars: int) -> int:
    """Output tokens that always hold ``list_schema(n, item_chars)``'s answer (one character a token, at worst)."""
    return 16 + n * (item_chars + 4)


def verdict_schema() -> dict:
    """The AFT filter's verdict: INCLUDE or EXCLUDE, the category (``ok`` or a reason to exclude), a sentence."""
    return {"type": "object", "additionalProperties": False, "required": ["verdict", "category", "reason"],
            "properties": {"verdict": {"type": "string", "enum": ["INCLUDE", "EXCLUDE"]},
                           "category": {"type": "string", "enum": ["ok", *FILTER_CATEGORIES]},
                           "reason": {"type": "string", "minLength": 1, "maxLength": REASON_CHARS}}}


def response_schema(max_tokens: int) -> dict:
    """An AFT demonstration: the private reasoning and the reply, bounded to share ``max_tokens`` (at about
    four characters a token, with room for the JSON around them)."""
    return {"type": "object", "additionalProperties": False, "required": ["reasoning", "answer"],
            "properties": {"reasoning": {"type": "string", "minLength": 1, "maxLength": int(max_tokens * 1.5)},
                           "answer": {"type": "string", "minLength": 1, "maxLength": int(max_tokens * 2)}}}
