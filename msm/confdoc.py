"""One line per config option, read from the comment each option file opens with, for ``train.py --help``.

Every file under ``conf/<group>/`` starts with a comment saying what it is for (a test holds every file
to that), so that comment is the option's documentation, kept where it cannot drift from the option.
``python train.py --help`` lists every group and option with the first sentence of it
(``conf/hydra/help/msm.yaml`` places the list; ``train.py`` registers the resolver that renders it).
"""

from __future__ import annotations

import re
from pathlib import Path

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
