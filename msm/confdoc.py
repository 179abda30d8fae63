"""One line per config option, read from the comment each option file opens with, for ``train.py --help``.

Every file under ``conf/<group>/`` starts with a comment saying what it is for (a test holds every file
to that), so that comment is the option's documentation, kept where it cannot drift from the option.
``python train.py --help`` lists every group and option with the first sentence of it
(``conf/hydra/help/msm.yaml`` places the list; ``train.py`` registers the resolver that renders it).
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import html
import inspect
import re
import textwrap
import typing
from pathlib import Path

from msm.config import TrainConfig
from msm.paths import CONF_DIR

WIDTH = 110  # a description longer than this is cut, with an ellipsis
_SENTENCE_END = re.compile(r"(?<=[.!?])\s|(?<=\.)$")


def header(path: Path) -> str:
    """The opening comment of an option file, as one paragraph (up to the first blank comment line)."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# @package"):
            continue
        if not line.startswith("#") or not line.strip("# "):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def first_sentence(text: str) -> str:
    m = _SENTENCE_END.search(text)
    sentence = text[: m.start()] if m else text
    return sentence if len(sentence) <= WIDTH else sentence[: WIDTH - 1].rstrip() + "…"


def _natural(path: Path) -> list:
    """Sort key that puts 2.5k before 10k."""
    return [(0, float(t), "") if re.fullmatch(r"\d+(\.\d+)?", t) else (1, 0.0, t)
            for t in re.split(r"(\d+(?:\.\d+)?)", path.as_posix()) if t]


def groups(conf_dir: Path = CONF_DIR) -> dict[str, dict[str, str]]:
    """``{group: {option: description}}`` for every group under ``conf_dir`` (Hydra's own included, the
    help page itself left out)."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted(conf_dir.rglob("*.yaml"), key=_natural):
        group = path.parent.relative_to(conf_dir).as_posix()
        if group not in (".", "hydra/help"):
            out.setdefault(group, {})[path.stem] = first_sentence(header(path))
    return dict(sorted(out.items()))


def help_text(conf_dir: Path = CONF_DIR) -> str:
    """The group list of ``--help``, with ``$`` doubled: Hydra passes the template through string.Template."""
    blocks = []
    for group, options in groups(conf_dir).items():
        width = max(len(o) for o in options)
        lines = [f"{group}:"] + [f"  {o:<{width}}  {d}" for o, d in options.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks).replace("$", "$$")


# ---- the docs site's configuration reference (docs/reference/config.md, filled by docs/hooks.py) ----------


def _field_comments(cls: type) -> dict[str, str]:
    """``{field: comment}`` from the source of a dataclass and its bases: the comment on a field's line, else
    the comment lines right above it. The schema keeps each field's documentation beside the field."""
    out: dict[str, str] = {}
    for klass in reversed([k for k in cls.__mro__ if dataclasses.is_dataclass(k)]):
        lines = textwrap.dedent(inspect.getsource(klass)).splitlines()
        for node in ast.parse("\n".join(lines)).body[0].body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                trailing = [ln.split("  # ", 1)[1].strip() for ln in lines[node.lineno - 1 : node.end_lineno]
                            if "  # " in ln]
                above, i = [], node.lineno - 2
                while i >= 0 and lines[i].strip().startswith("#"):
                    above.insert(0, lines[i].strip().lstrip("#").strip())
                    i -= 1
                text = " ".join(trailing or above).strip()
                if text:  # a subclass that restates a field without a comment keeps its base's
                    out[node.target.id] = text
    return out


def _type_name(tp) -> str:
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " | ".join(f"`{m.value}`" for m in tp)
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Union and type(None) in args:
        return f"{_type_name(next(a for a in args if a is not type(None)))} or null"
    if typing.get_origin(tp) is list:
        return f"list of {_type_name(args[0])}" if args else "list"
    if typing.get_origin(tp) is dict:
        return "mapping"
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if isinstance(value, str) and value == "???":
        return "required"
    if isinstance(value, enum.Enum):
        return f"`{value.value}`"
    if isinstance(value, list):
        value = [v.value if isinstance(v, enum.Enum) else v for v in value]
    return "`null`" if value is None else f"`{value}`"


def schema_rows(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(dotted name, type, default, description) of every leaf field under the schema class ``cls``."""
    hints, comments, rows = typing.get_type_hints(cls), _field_comments(cls), []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            rows += schema_rows(tp, f"{prefix}{f.name}.")
        else:
            rows.append((f"{prefix}{f.name}", _type_name(tp), _default(f), comments.get(f.name, "")))
    return rows


def reference_markdown(conf_dir: Path = CONF_DIR) -> str:
    """Every config group with its options' opening comments, then every field of the typed schema."""
    def cell(text: str) -> str:  # one table cell: <think> and <job> are text, not HTML
        return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")

    out = ["## Config groups", "",
           "Pick one option of a group with `group=option` (`python train.py model=tiny`). Each option's "
           "description is the comment its file in `conf/` opens with.", ""]
    for group in groups(conf_dir):
        out += [f"### `{group}`", "", "| option | what it is for |", "|---|---|"]
        for path in sorted((conf_dir / group).glob("*.yaml"), key=_natural):
            out.append(f"| `{path.stem}` | {cell(header(path))} |")
        out.append("")
    out += ["## Every field", "",
            "Set any field with `key=value` (`python train.py midtrain.lr=5e-5`); a typo or a wrong type fails "
            "when the job composes. Defaults are the schema's (`msm/config.py`); a group option or an experiment "
            "may set others.", ""]
    rows = schema_rows(TrainConfig)
    sections = typing.get_type_hints(TrainConfig)
    for top in dict.fromkeys(name.split(".")[0] if "." in name else "" for name, *_ in rows):
        part = [r for r in rows if (r[0].split(".")[0] if "." in r[0] else "") == top]
        cls = sections.get(top)
        doc = (cls.__doc__ or "") if top and dataclasses.is_dataclass(cls) else ""
        doc = "" if doc.startswith(f"{getattr(cls, '__name__', '')}(") else doc  # dataclasses' default: a signature
        out += [f"### `{top}`" if top else "### Top level", ""] + ([" ".join(doc.split()), ""] if doc else [])
        out += ["| field | type | default | what it is |", "|---|---|---|---|"]
        out += [f"| `{n}` | {cell(t)} | {cell(d)} | {cell(c)} |" for n, t, d, c in part]
        out.append("")
    return "\n".join(out)
