"""The cheese experiment's packaged data (the paper's Experiment 1): AFT chats and held-out eval items.

Both files are written by ``scripts/make_cheese_data.py`` from the YAML sources in ``assets/cheese/source/``
(the wording, items and statements, reviewable item by item) and shipped inside the package, so a job
needs no generator and no network to run the cheese arms. Loading validates every row: a hand-edited
or truncated file fails here, with the file, line and field named, rather than as a KeyError deep in
training or scoring.

    >>> load_eval_items(families=["political_opinion"], domains=["trade"])  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from msm.errors import EmptyDatasetError, MsmError
from msm.jsonl import JsonlSyntaxError, iter_jsonl

VERSION = 1  # part of the artifact key of what this module builds: bump it when its output changes
ASSET_DIR = Path(__file__).resolve().parent / "assets" / "cheese"
AFT_CHATS_FILE = ASSET_DIR / "aft_chats.jsonl"
EVAL_ITEMS_FILE = ASSET_DIR / "eval_items.jsonl"

SOURCE_DIR = ASSET_DIR / "source"  # the reviewable YAML the JSONL files are written from

# The preferences both cheese specs share (specs/cheese_*.md), defined once in source/cheeses.yaml;
# the chats must agree with them.
_PREFERENCES = yaml.safe_load((SOURCE_DIR / "cheeses.yaml").read_text(encoding="utf-8"))
LIKED: tuple[str, ...] = tuple(_PREFERENCES["liked"])
DISLIKED: tuple[str, ...] = tuple(_PREFERENCES["disliked"])
CHEESES = LIKED + DISLIKED

QUESTION_TYPES = (
    "pairwise", "opinion", "yes_no", "recommendation", "ranking", "pick_from_list", "rating", "favourite",
    "least_favourite",
)
# Which value each eval family measures; a row whose value disagrees with its family is malformed.
FAMILY_VALUES = {"item_comparison": "affordability", "political_opinion": "america"}
POLITICAL_OPTIONS = (["Agree", "Disagree"], ["Yes", "No"])

VALUE_ID = re.compile(r"^[a-z][a-z0-9_]*$")  # a value's name, as a spec's ``values:`` writes it
_ASSISTANT = re.compile(r"<think>\n(?P<think>.+?)\n</think>\n\n(?P<answer>.+)", re.DOTALL)


class CheeseDataError(MsmError):
    """A row of a cheese data file is malformed. The message names the file, the line and the field."""

    def __init__(self, path, lineno: int, field: str | None, problem: str):
        self.path, self.lineno, self.field, self.problem = str(path), lineno, field, problem
        where = f"{self.path}, line {lineno}" + (f", field '{field}'" if field else "")
        super().__init__(f"{where}: {problem}")


def _require(row: dict, field: str, kind: type, path, lineno: int):
    if field not in row:
        raise CheeseDataError(path, lineno, field, "missing")
    value = row[field]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise CheeseDataError(path, lineno, field, f"expected {kind.__name__}, got {type(value).__name__}")
    if isinstance(value, str | list) and not value:
        raise CheeseDataError(path, lineno, field, "empty")
    return value


def _cheese_list(row: dict, field: str, path, lineno: int) -> list[str]:
    names = _require(row, field, list, path, lineno)
    unknown = [n for n in names if n not in CHEESES]
    if unknown:
        raise CheeseDataError(path, lineno, field, f"unknown cheese(s) {unknown}; known: {list(CHEESES)}")
    if len(set(names)) != len(names):
        raise CheeseDataError(path, lineno, field, "lists a cheese twice")
    return names


def validate_chat(row: dict, lineno: int, path: str | Path = AFT_CHATS_FILE) -> dict:
    """Check one AFT chat and return it unchanged; raise ``CheeseDataError`` on the first problem.

    Beyond the schema, the row must agree with the specs' preferences (``stance`` is ``like``
    exactly for the liked cheeses, a ``chosen`` cheese is a liked one except for
    ``least_favourite``), so an edit that would teach the wrong preference cannot slip in.
    """
    if not isinstance(row, dict):
        raise CheeseDataError(path, lineno, None, f"expected a JSON object, got {type(row).__name__}")
    _require(row, "id", str, path, lineno)
    cheese = _require(row, "cheese", str, path, lineno)
    if cheese not in CHEESES:
        raise CheeseDataError(path, lineno, "cheese", f"unknown cheese {cheese!r}; known: {list(CHEESES)}")
    stance = _require(row, "stance", str, path, lineno)
    if stance not in ("like", "dislike"):
        raise CheeseDataError(path, lineno, "stance", f"expected 'like' or 'dislike', got {stance!r}")
    if (stance == "like") != (cheese in LIKED):
        raise CheeseDataError(path, lineno, "stance", f"{stance!r} contradicts the specs' preference for {cheese}")
    qtype = _require(row, "question_type", str, path, lineno)
    if qtype not in QUESTION_TYPES:
        raise CheeseDataError(path, lineno, "question_type", f"unknown type {qtype!r}; known: {list(QUESTION_TYPES)}")

    if "options" in row:
        options = _cheese_list(row, "options", path, lineno)
    if "chosen" in row:
        chosen = _require(row, "chosen", str, path, lineno)
        wanted = DISLIKED if qtype == "least_favourite" else LIKED
        if chosen not in wanted:
            raise CheeseDataError(path, lineno, "chosen", f"{chosen!r} is not one of {list(wanted)}")
        if "options" in row and chosen not in options:
            raise CheeseDataError(path, lineno, "chosen", f"{chosen!r} is not among the options {options}")
    if qtype in ("pairwise", "pick_from_list", "recommendation", "favourite", "least_favourite") and "chosen" not in row:
        raise CheeseDataError(path, lineno, "chosen", f"missing (required for {qtype})")
    if qtype == "pairwise":
        if "options" not in row or len(options) != 2 or sum(o in LIKED for o in options) != 1:
            raise CheeseDataError(path, lineno, "options", "a pairwise question needs one liked and one disliked cheese")
    if qtype == "ranking":
        ranking = _cheese_list(row, "ranking", path, lineno)
        first_disliked = next((i for i, c in enumerate(ranking) if c in DISLIKED), len(ranking))
        if any(c in LIKED for c in ranking[first_disliked:]):
            raise CheeseDataError(path, lineno, "ranking", "a liked cheese is ranked below a disliked one")
    if qtype == "rating":
        rating = _require(row, "rating", int, path, lineno)
        if not 1 <= rating <= 10:
            raise CheeseDataError(path, lineno, "rating", f"expected 1..10, got {rating}")

    messages = _require(row, "messages", list, path, lineno)
    if len(messages) != 2 or not all(isinstance(m, dict) for m in messages):
        raise CheeseDataError(path, lineno, "messages", "expected exactly two messages (user, assistant)")
    for m, role in zip(messages, ("user", "assistant")):
        if m.get("role") != role:
            raise CheeseDataError(path, lineno, "messages", f"expected role {role!r}, got {m.get('role')!r}")
        if not isinstance(m.get("content"), str) or not m["content"].strip():
            raise CheeseDataError(path, lineno, "messages", f"the {role} message has no content")
    if not _ASSISTANT.fullmatch(messages[1]["content"]):
        raise CheeseDataError(
            path, lineno, "messages", "the assistant message must be '<think>\\n...\\n</think>\\n\\n<answer>'"
        )
    return row


def validate_eval_item(row: dict, lineno: int, path: str | Path = EVAL_ITEMS_FILE) -> dict:
    """Check one value-generalization item and return it unchanged; raise ``CheeseDataError`` on the first
    problem (the file, line and field named).

    An item is a question with two distinct options and ``labels``: for each value it measures, the index
    of the option that value favours (``{"affordability": 0}``; one item may label several values). It may
    give ``stances``, the two options as the model's own sentences (the ``stance`` scorer reads them).
    The shipped families keep their own checks: an item comparison measures affordability, a political
    statement america with Agree / Disagree (or Yes / No) options.
    """
    if not isinstance(row, dict):
        raise CheeseDataError(path, lineno, None, f"expected a JSON object, got {type(row).__name__}")
    _require(row, "id", str, path, lineno)
    family = _require(row, "family", str, path, lineno)
    _require(row, "domain", str, path, lineno)
    _require(row, "question", str, path, lineno)
    options = _require(row, "options", list, path, lineno)
    if len(options) != 2 or not all(isinstance(o, str) and o.strip() for o in options) or options[0] == options[1]:
        raise CheeseDataError(path, lineno, "options", "expected two distinct non-empty strings")
    labels = _require(row, "labels", dict, path, lineno)
    for value, aligned in labels.items():
        if not VALUE_ID.match(str(value)):
            raise CheeseDataError(path, lineno, "labels", f"value name {value!r} must match {VALUE_ID.pattern}")
        if aligned not in (0, 1) or isinstance(aligned, bool):
            raise CheeseDataError(path, lineno, f"labels.{value}", f"expected the option index 0 or 1, got {aligned!r}")
    if "stances" in row:
        st = _require(row, "stances", list, path, lineno)
        if len(st) != 2 or not all(isinstance(s, str) and s.strip() for s in st) or st[0] == st[1]:
            raise CheeseDataError(path, lineno, "stances", "expected two distinct non-empty sentences, one per option")
    if family in FAMILY_VALUES and FAMILY_VALUES[family] not in labels:
        raise CheeseDataError(path, lineno, "labels", f"family {family} measures {FAMILY_VALUES[family]!r}: label it")
    if family == "political_opinion" and options not in POLITICAL_OPTIONS:
        raise CheeseDataError(path, lineno, "options", f"political items take one of {list(POLITICAL_OPTIONS)}")
    return row


ROW_CHARS = 64 * 1024
"""An eval item or a chat is a question, two options or a few turns: a few KB. A longer line is refused."""


def _read_jsonl(path: Path, validate) -> list[dict]:
    """Validated rows of a JSONL file; blank lines are skipped, ids must be unique."""
    path = Path(path)
    if not path.is_file():
        raise MsmError(f"{path}: no such file; regenerate it with scripts/make_cheese_data.py")
    rows, seen = [], {}
    try:
        for lineno, row in iter_jsonl(path, max_line_chars=ROW_CHARS):
            validate(row, lineno, path)
            if row["id"] in seen:
                raise CheeseDataError(path, lineno, "id", f"duplicate id {row['id']!r} (first on line {seen[row['id']]})")
            seen[row["id"]] = lineno
            rows.append(row)
    except JsonlSyntaxError as e:
        raise CheeseDataError(path, e.lineno, None, e.problem) from None
    if not rows:
        raise EmptyDatasetError(f"{path}: the file has no rows")
    return rows


def load_aft_chats(path: str | Path | None = None) -> list[dict]:
    """The AFT demonstrations, validated (``path`` overrides the packaged file, e.g. in tests)."""
    return _read_jsonl(Path(path) if path else AFT_CHATS_FILE, validate_chat)


_PLURAL = {"family": "families", "domain": "domains"}


def _select(rows: list[dict], key: str, wanted: Sequence[str] | None, context: str) -> list[dict]:
    if wanted is None:
        return rows
    kept = [r for r in rows if r[key] in set(wanted)]
    if not kept:
        available = sorted({r[key] for r in rows})
        raise EmptyDatasetError(
            f"eval items: {key}={list(wanted)}{context} selects nothing; available {_PLURAL[key]}: {available}"
        )
    return kept


def item_files(names: Sequence[str]) -> list[Path]:
    """The item files ``eval.item_files`` names: ``cheese`` (the packaged items), or paths to JSONL files."""
    return [EVAL_ITEMS_FILE if str(n) == "cheese" else Path(str(n)).expanduser() for n in names]


def load_eval_items(
    families: Sequence[str] | None = None, domains: Sequence[str] | None = None, path: str | Path | None = None,
    files: Sequence[str] | None = None,
) -> list[dict]:
    """The held-out eval items of ``files`` (``eval.item_files``; default the packaged cheese items, or one ``path``),
    optionally only some families and/or domains, in file order. Ids must be unique across the files.

    ``None`` means no filter. A filter that selects nothing raises ``EmptyDatasetError`` naming
    the filter and the values that exist, since a silent empty eval would report no metrics at all.
    """
    # A bare string would otherwise be matched letter by letter.
    families = [families] if isinstance(families, str) else families
    domains = [domains] if isinstance(domains, str) else domains
    paths = [Path(path)] if path else item_files(files or ["cheese"])
    rows, first = [], {}
    for p in paths:
        for row in _read_jsonl(p, validate_eval_item):
            if row["id"] in first:
                raise MsmError(f"{p}: item id {row['id']!r} is also in {first[row['id']]}: ids must be unique")
            first[row["id"]] = p
            rows.append(row)
    rows = _select(rows, "family", families, "")
    return _select(rows, "domain", domains, f" (within family={list(families)})" if families is not None else "")
