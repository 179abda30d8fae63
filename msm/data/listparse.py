"""Lenient parsing of the lists and documents that LLMs write.

Every list level of the document pipeline asks for "a numbered list, one item per line", and every model
answers a little differently: strong models add a preamble ("Here are five domains:") and bold titles,
weak ones (a 135M model, a random test model) mix bullets, numbers, blank lines and rambling. Nothing
here ever raises on messy input: what cannot be read as an item is dropped, and the caller tops up
with another request when too few items survive. Pure functions, no I/O, so they are unit-tested alone.

Answers asked for as JSON (``msm.data.schemas``) are read by ``parse_list`` and ``parse_fields``: the
JSON when it parses, else (a server that ignored the schema, or JSON cut off by the token limit) the
complete strings of a cut-off list, or the lenient reading of free text, with the failure reported.
"""

from __future__ import annotations

import json
import re

# A list marker at the start of a line: "-", "*", "•", "1.", "1)", "(1)", "[1]", "#1", "a)", "Step 1:".
_MARKER = re.compile(
    r"""^\s*(?:
        (?P<num>\(?\[?\#?(?P<n>\d{1,3})\s*[.):\]]+)        # 1.  1)  (1)  [1]  #1.  1:
      | (?:step|item|idea|domain|type)\s+(?P<n2>\d{1,3})\s*[.):\-]+   # Step 1:  Idea 2 -
      | [-*\u2022\u00b7\u2013\u2014+>]+                     # bullets and dashes
      | \(?[a-zA-Z][.)](?=\s)                               # a)  b.
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_INLINE_NUMBERS = re.compile(r"(?:^|\s)\(?\d{1,2}[.)]\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_WRAPPERS = re.compile(r"^[\s\"'`*_]+|[\s\"'`*_]+$")
_TRAILING = re.compile(r"[\s,;]+$")
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)  # a "word" here: two or more letters


def _norm(item: str) -> str:
    """The key under which two items count as the same (case, spacing and punctuation ignored)."""
    return " ".join(re.findall(r"\w+", item.lower()))


def clean_item(text: str, max_chars: int = 600) -> str:
    """One item without its list marker, markdown emphasis, wrapping quotes or trailing separators.

    A very long item (a model that never breaks lines) is cut at a word boundary to ``max_chars``
    rather than dropped: its start is usually the part that answers the question.
    """
    text = _HEADING.sub("", text)
    text = _MARKER.sub("", text, count=1)
    text = text.replace("**", "").replace("__", "")
    text = _WRAPPERS.sub("", text)
    text = _TRAILING.sub("", text)
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > max_chars:
        cut = text[:max_chars].rsplit(" ", 1)[0]
        text = (cut or text[:max_chars]).rstrip(" ,;:")
    return text


def _marker_number(line: str) -> tuple[bool, int | None]:
    m = _MARKER.match(line)
    if not m or not m.group(0).strip():
        return False, None
    n = m.group("n") or m.group("n2")
    return True, int(n) if n else None


def _is_preamble(line: str) -> bool:
    """An unmarked line that introduces a list ("Here are 5 ideas:") or a bare heading."""
    s = line.strip().strip("*_").strip()
    return s.endswith(":") or bool(_HEADING.match(line)) or s.lower().startswith(("here are", "here is", "sure"))


def parse_numbered(text: str, *, min_words: int = 1, min_letters: int = 3, max_chars: int = 600,
                   truncated: bool = False) -> list[tuple[int | None, str]]:
    """Items of a list answer, each with the number the model gave it (None when unnumbered).

    - If any line carries a list marker, the list is "marked": unmarked lines that follow an item are
      continuations of it (wrapped text), and unmarked lines before the first item are a preamble.
    - If no line is marked, every non-preamble line is an item; a single line holding an inline numbered
      list ("1. x 2. y") is split on its numbers.
    - Items shorter than ``min_words`` words or ``min_letters`` letters are dropped, and so are repeats
      (case and punctuation ignored); numbers are kept so a caller can map items to the slots it asked for.
    - ``truncated``: the answer was cut off by the token limit, so its last item may be cut mid-way
      and is dropped (never kept as if whole).
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"```[a-zA-Z]*", "\n", text)
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if len(lines) == 1 and len(_INLINE_NUMBERS.findall(lines[0])) >= 2:
        lines = [p for p in re.split(r"(?=(?:^|\s)\(?\d{1,2}[.)]\s+)", lines[0]) if p.strip()]
    marked = [_marker_number(ln) for ln in lines]
    any_marked = any(m for m, _ in marked)

    raw: list[tuple[int | None, str]] = []
    for line, (is_marked, num) in zip(lines, marked):
        if any_marked:
            if is_marked:
                raw.append((num, line))
            elif raw and not _is_preamble(line):
                raw[-1] = (raw[-1][0], raw[-1][1] + " " + line.strip())
        elif not _is_preamble(line):
            raw.append((None, line))
    if truncated and raw:
        raw.pop()
    return _kept(raw, min_words, min_letters, max_chars)


def _kept(raw: list[tuple[int | None, str]], min_words: int, min_letters: int,
          max_chars: int) -> list[tuple[int | None, str]]:
    """Items cleaned, without the too-short ones and repeats."""
    out, seen = [], set()
    for num, line in raw:
        item = clean_item(line, max_chars=max_chars)
        key = _norm(item)
        if not key or key in seen:
            continue
        if len(item.split()) < min_words or sum(len(w) for w in _WORD.findall(item)) < min_letters:
            continue
        seen.add(key)
        out.append((num, item))
    return out


def parse_items(text: str, **kwargs) -> list[str]:
    """``parse_numbered`` without the numbers."""
    return [item for _, item in parse_numbered(text, **kwargs)]


_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$", re.IGNORECASE)
_JSON_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_json(text: str):
    """The JSON value of an answer (a code fence around it allowed), or None."""
    try:
        return json.loads(_FENCE.sub("", text or ""))
    except ValueError:
        return None


def _json_string(body: str) -> str:
    """A JSON string's text from between its quotes (as it stands when one of its escapes is not JSON's)."""
    try:
        return json.loads(f'"{body}"')
    except ValueError:
        return body


def parse_list(text: str, *, structured: bool = False, min_words: int = 1, min_letters: int = 3, max_chars: int = 600,
               truncated: bool = False) -> tuple[list[tuple[int | None, str]], bool]:
    """Items of a list answer (numbered by position), and whether an answer asked for as JSON (``structured``)
    was not JSON and was read another way: ``{"items": [...]}`` or a bare list; else the complete strings of
    JSON cut off in its list; else the free-text reading of ``parse_numbered``. Any answer that looks like a
    JSON list is read as one, so a server that ignores the schema but answers in JSON still counts."""
    data = parse_json(text)
    found = data.get("items") if isinstance(data, dict) else data
    if isinstance(found, list):
        raw = [(i, str(x)) for i, x in enumerate(found, start=1) if isinstance(x, (str, int, float))]
        return _kept(raw, min_words, min_letters, max_chars), False
    start = (text or "").find('"items"')
    if structured and start >= 0:
        cut = [_json_string(m.group(1)) for m in _JSON_STRING.finditer(text, start + len('"items"'))]
        return _kept(list(enumerate(cut, start=1)), min_words, min_letters, max_chars), True
    return parse_numbered(text, min_words=min_words, min_letters=min_letters, max_chars=max_chars,
                          truncated=truncated), structured


def parse_fields(text: str, required: tuple[str, ...]) -> dict | None:
    """The fields of a JSON object answer when it holds every ``required`` key as a non-empty string, else None."""
    data = parse_json(text)
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data[k].strip() for k in required):
        return None
    return data


def item_key(item: str) -> str:
    return _norm(item)


# ---- documents ------------------------------------------------------------------------------------

_DOC_OPEN = re.compile(r"<\s*(?:document|final|content)\s*>", re.IGNORECASE)
_DOC_CLOSE = re.compile(r"<\s*/\s*(?:document|final|content)\s*>", re.IGNORECASE)
_PLAN_OPEN = re.compile(r"<\s*(?:plan|scratchpad|thinking|think)\s*>", re.IGNORECASE)
_PLAN_CLOSE = re.compile(r"<\s*/\s*(?:plan|scratchpad|thinking|think)\s*>", re.IGNORECASE)
_UNSUITABLE = re.compile(r"^[\W_]*UNSUITABLE\b")


def extract_document(text: str) -> str:
    """The final content of a writer's answer, without its plan (scratchpad).

    The writer is asked for ``<plan>...</plan>`` then ``<document>...</document>``. In order of trust:
    the inside of the (last) document tags, closing tag optional; else what follows the closing plan tag;
    else, when a plan was opened and never closed, nothing (the answer is all plan); else the whole text
    (a model that skipped the plan and the tags).
    """
    text = (text or "").strip()
    opens = list(_DOC_OPEN.finditer(text))
    if opens:
        body = text[opens[-1].end():]
        close = _DOC_CLOSE.search(body)
        return (body[: close.start()] if close else body).strip()
    closes = list(_PLAN_CLOSE.finditer(text))
    if closes:
        return _DOC_CLOSE.sub("", text[closes[-1].end():]).strip()
    if _PLAN_OPEN.search(text):
        return ""
    return text


def is_unsuitable(text: str) -> bool:
    """The writer's escape: it answered UNSUITABLE (alone, or as the document) instead of a document."""
    text = (text or "").strip()
    return bool(_UNSUITABLE.match(text) or _UNSUITABLE.match(extract_document(text)))
