"""Plain Markdown (or text) specs, read as they are written: headings, prose, and rules as list items.

Published specs and constitutions are not YAML: a title, a few paragraphs, then sections of rules written
as list items that start with an id (``SP1: ...``, ``GP2. ...``, ``R3 - ...``, ``**SP1:** ...``), with
nested bullets or lettered lines (``a. ...``) elaborating a rule. :func:`parse` turns such a file into the
same data the structured form's front matter holds (``id, title, summary, sections[].rules[]``) and the
prose that is not a rule, so both forms pass through one validation (``msm.specs``) and have one content
digest; ``python -m msm.specs convert`` writes that data as the structured form.

How a file is read (markdown-it's CommonMark parser finds the blocks):

- the one level-1 heading that opens the file is the title (else the title comes from the file name);
  the first paragraph after it is the summary, the rest of that prose the spec's body;
- every other heading opens a section; a heading that itself starts with an id (``### SP1: Title``) is a
  rule, its paragraphs the rule's text;
- a list item is a rule: its id is the one its text starts with (``SP1:``), or the number of an ordered
  list (``1.``, qualified by its parent or section: ``principles.1``), or else derived from its section
  and position (``principles.2``); nested items, and lines that start with a letter (``a.``) or an id
  inside an item, are its subrules (``parent``), a letter qualified by the parent (``SP1.a``);
- a paragraph that starts with an explicit id (letters and digits: ``SP1:``) is a rule too; other
  paragraphs are the section's intro;
- a leading bold phrase (``**Accept shutdown.** The assistant ...``) is the rule's title;
- a section without rules joins the body as prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from msm.errors import SpecError

_EXPLICIT = r"[A-Za-z]{1,6}\d+(?:[.-]\d+)*[a-z]?"  # SP1, GP2, R3, SP1.2, V10b
_ID = rf"{_EXPLICIT}|\d+(?:\.\d+)*|[a-z]"
_LEAD = re.compile(
    r"^(?:\*\*|__)?(?:"
    rf"[\[(](?P<bracketed>{_ID})[\])]"  # (a) [SP1]
    rf"|(?P<plain>{_ID})(?:\*\*|__)?(?:\s*[:.)]|\s+[-\u2013\u2014])"  # SP1:  GP2.  a)  R3 -
    r")(?:\*\*|__)?\s+(?P<rest>\S[\s\S]*)$")
_BOLD_TITLE = re.compile(r"^(?:\*\*|__)(?P<title>[^*_\n]+?)(?:\*\*|__)\s*(?P<rest>[\s\S]*)$")
_SLUG = re.compile(r"[^a-z0-9]+")


def lead_id(text: str) -> tuple[str | None, str]:
    """``("SP1", "the rest")`` when ``text`` starts with an id and its separator, else ``(None, text)``."""
    m = _LEAD.match(text.strip())
    if not m:
        return None, text.strip()
    return m.group("bracketed") or m.group("plain"), m.group("rest").strip()


def _kind(rule_id: str) -> str:
    """explicit (SP1), number (1, 2.3) or letter (a): how an id written in the text is qualified."""
    if re.fullmatch(_EXPLICIT, rule_id):
        return "explicit"
    return "number" if rule_id[0].isdigit() else "letter"


def slug(text: str, fallback: str) -> str:
    """An id in ``msm.specs.ID_RE`` form: lower case, words joined by ``_``, starting with a letter."""
    s = _SLUG.sub("_", text.lower()).strip("_")[:48].strip("_")
    if not s:
        return fallback
    return s if s[0].isalpha() else f"{fallback}_{s}"


def _clean(text: str) -> str:
    """Lines of one paragraph joined with spaces; paragraphs kept apart."""
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines() if line.strip())
                       for p in re.split(r"\n\s*\n", text.strip()) if p.strip())


def _titled(text: str) -> tuple[str, str]:
    """(title, text): a leading bold phrase is the title; a rule that is nothing but a title is its own text."""
    m = _BOLD_TITLE.match(text)
    if not m:
        return "", text
    title = m.group("title").strip().rstrip(".:\u2013\u2014-").strip()
    rest = m.group("rest").lstrip(".:\u2013\u2014- ").strip()
    return (title, rest) if rest else ("", title)


@dataclass
class _Item:
    """A list item, or a heading that starts with an id, on its way to becoming a rule."""

    line: int
    paras: list[str] = field(default_factory=list)
    children: list[_Item] = field(default_factory=list)
    number: str | None = None  # an ordered list's marker
    heading_id: str | None = None  # ### SP1: Title
    heading_title: str = ""


@dataclass
class _Section:
    title: str
    blocks: list = field(default_factory=list)  # _Item (a rule) or (line, paragraph text), in file order


def _tokens(text: str):
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").parse(text)


def parse(text: str, path: Path) -> tuple[dict, str]:
    """``(data, body)``: the spec's fields as the structured form's front matter would hold them, and its prose."""
    tokens = _tokens(text)
    headings = [int(t.tag[1]) for t in tokens if t.type == "heading_open"]
    has_title = headings.count(1) == 1 and headings[0] == 1
    title = path.stem.replace("_", " ").replace("-", " ").strip().capitalize()
    preamble: list[str] = []
    sections: list[_Section] = []
    stack: list[_Item] = []  # the open list items, innermost last

    def current() -> _Section:
        if not sections:  # rules before any heading: a section named after the spec
            sections.append(_Section(title))
        return sections[-1]

    i = 0
    while i < len(tokens):
        t = tokens[i]
        line = t.map[0] + 1 if t.map else 0
        if t.type == "heading_open":
            level, content = int(t.tag[1]), tokens[i + 1].content.strip()
            i += 3
            if has_title and level == 1:
                title = content
                continue
            rid, rest = lead_id(content)
            if rid is not None and _kind(rid) == "explicit":
                current().blocks.append(_Item(line, heading_id=rid, heading_title=rest))
            else:
                sections.append(_Section(content))
            continue
        last = sections[-1].blocks[-1] if sections and sections[-1].blocks else None
        heading_rule = last if isinstance(last, _Item) and last.heading_id else None
        if t.type == "list_item_open":
            item = _Item(line, number=t.info or None)
            if stack:
                stack[-1].children.append(item)
            elif heading_rule is not None:  # the lists under "### SP1: ..." elaborate SP1
                heading_rule.children.append(item)
            else:
                current().blocks.append(item)
            stack.append(item)
        elif t.type == "list_item_close":
            stack.pop()
        elif t.type in ("inline", "fence", "code_block", "html_block") and t.content.strip():
            if stack:
                stack[-1].paras.append(t.content)
            elif heading_rule is not None:
                heading_rule.paras.append(t.content)
            elif sections:
                sections[-1].blocks.append((line, t.content))
            else:
                preamble.append(t.content)
        i += 1

    used: dict[str, int] = {}
    out_sections, section_ids, body = [], set(), [_clean(p) for p in preamble[1:]]
    for n, sec in enumerate(sections, start=1):
        sid = slug(sec.title, f"section_{n}")
        while sid in section_ids:
            sid = f"{sid}_{n}"
        section_ids.add(sid)
        rules: list[dict] = []
        intro: list[str] = []
        position = 0
        for block in sec.blocks:
            if isinstance(block, _Item):
                position += 1
                rules += _rules(block, None, sid, position, used, path)
                continue
            line, paragraph = block  # its lines that start with an id are rules; the rest is the intro
            for seg_id, seg in _segments(paragraph):
                if seg_id is not None and _kind(seg_id) == "letter" and any(r["parent"] is None for r in rules):
                    parent = [r for r in rules if r["parent"] is None][-1]["id"]  # elaborates the rule above
                    rules.append(_rule(_qualify(seg_id, parent, sid), seg, parent, line, used, path))
                elif seg_id is not None and _kind(seg_id) != "letter":
                    position += 1
                    rules.append(_rule(_qualify(seg_id, None, sid), seg, None, line, used, path))
                else:
                    intro.append(_clean(seg if seg_id is None else f"{seg_id}. {seg}"))
        intro_text = "\n\n".join(p for p in intro if p)
        rules = [r for r in rules if r["text"]]
        if not rules:  # prose only: part of the spec's text, not a section of rules
            body.append(f"## {sec.title}\n\n{intro_text}".strip())
            continue
        out_sections.append({"id": sid, "title": sec.title, **({"intro": intro_text} if intro_text else {}),
                             "rules": [{k: v for k, v in r.items() if k != "line" and v not in (None, "")}
                                       for r in rules]})
    if not out_sections:
        raise SpecError(path, None, "no rules found: a plain Markdown spec needs rules as list items or as "
                                    "paragraphs that start with an id (like 'SP1: ...'), under its headings")
    summary = _clean(preamble[0]) if preamble else title
    data = {"id": slug(path.stem, "spec"), "title": title, "summary": summary, "sections": out_sections}
    return data, "\n\n".join(b for b in body if b)


def _segments(text: str) -> list[tuple[str | None, str]]:
    """A paragraph cut where a line starts with an id: ``[(None, prose), ("a", "first"), ("b", "second")]``."""
    out: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines():
        rid, rest = lead_id(line)
        if rid is not None:
            out.append((rid, [rest]))
        else:
            out[-1][1].append(line)
    return [(rid, "\n".join(lines)) for rid, lines in out if rid is not None or "".join(lines).strip()]


def _qualify(rule_id: str, parent: str | None, section: str) -> str:
    """An id as written, made valid and unique: a number or a letter is local to its parent (or section)."""
    return rule_id if _kind(rule_id) == "explicit" else f"{parent or section}.{rule_id}"


def _rule(rule_id: str, text: str, parent: str | None, line: int, used: dict[str, int], path: Path,
          title: str = "") -> dict:
    if rule_id in used:
        raise SpecError(path, None, f"line {line}: rule id {rule_id!r} is used twice (first on line {used[rule_id]})")
    used[rule_id] = line
    bold, text = _titled(_clean(text))
    return {"id": rule_id, "title": title or bold, "text": text or title, "parent": parent, "line": line}


def _rules(item: _Item, parent: str | None, section: str, position: int, used: dict[str, int],
           path: Path) -> list[dict]:
    """The rule an item is, then its subrules (id-lines inside it, then nested items), in file order."""
    segments = _segments("\n\n".join(item.paras))
    head = segments.pop(0)[1] if segments and segments[0][0] is None else ""
    written = item.heading_id
    if written is None and not head and segments:  # the item's text starts with an id
        written, head = segments.pop(0)
        if _kind(written) == "letter" and parent is None:  # a top-level "a." is text, not an id
            written, head = None, f"{written}. {head}"
    if written is not None:
        rid = _qualify(written, parent, section)
    elif item.number is not None:
        rid = _qualify(item.number, parent, section)
    else:
        rid = f"{parent or section}.{position}"
        while rid in used:
            rid += "_"
    out = [_rule(rid, head, parent, item.line, used, path, title=item.heading_title)]
    k = 0
    for seg_id, seg in segments:
        k += 1
        out.append(_rule(_qualify(seg_id, rid, section) if seg_id else f"{rid}.{k}", seg, rid, item.line, used, path))
    for child in item.children:
        k += 1
        out += _rules(child, rid, section, k, used, path)
    return out
