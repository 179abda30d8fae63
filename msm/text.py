"""Word-level text normalisation shared by the contamination check (msm.evals.contamination) and the
corpus-health report (msm.data.health): both compare word n-grams, so both must cut text into words
the same way."""

from __future__ import annotations

import re
from typing import Mapping

_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """Lowercased words with punctuation stripped.

    Apostrophes are deleted rather than split on, so "Kyle's" and "kyles" give the same word and a
    curly-quote vs straight-quote difference cannot hide a copy. Any other non-alphanumeric
    character (incl. underscore) separates words.
    """
    return _WORD.findall(_APOSTROPHES.sub("", text.lower()))


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """Distinct word n-grams of ``text`` after :func:`words` normalization; empty if text is shorter than n."""
    w = words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def row_text(row: Mapping) -> str:
    """A row's text: ``text`` if present, else every message's content (AFT rows) joined by newlines.

    Messages are joined with a newline, which is a word break, so no n-gram spans two messages
    more than it would span two paragraphs.
    """
    if "text" in row:
        return str(row["text"])
    return "\n".join(str(m.get("content", "")) for m in row.get("messages", []))
