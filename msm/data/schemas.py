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

ITEM_CHARS = {"domains": 60, "subdomains": 100, "assertions": 240, "doc_types": 60, "ideas": 320,
              "aft_domains": 60, "questions": 300}
"""The longest item each list step takes, in characters (a domain is a short name, an idea two sentences)."""
REASON_CHARS = 200


def list_schema(n: int, item_chars: int) -> dict:
    """``{"items": [n strings]}``: a list step's answer."""
    return {"type": "object", "additionalProperties": False, "required": ["items"],
            "properties": {"items": {"type": "array", "minItems": n, "maxItems": n,
                                     "items": {"type": "string", "minLength": 1, "maxLength": item_chars}}}}


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
