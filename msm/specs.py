"""Load, validate and render Model Specs.

A spec is a Markdown file with YAML front matter. The front matter carries everything that has an id
(sections and rules), because data generators, AFT filters and analyses refer to rules by id; the
Markdown after the closing ``---`` is optional overview prose. Validation is strict (unknown keys are
errors) so that a typo such as ``wyh:`` fails loudly instead of silently dropping a rule's reason,
and every error names the file and the exact field (``sections[1].rules[3].id``; indices are
0-based, in file order) so the user can go straight to it.

A spec can also be plain Markdown, as published specs are written (headings, prose, rules as list items that
start with an id): ``msm.spec_markdown`` reads it into the same fields, so both forms pass the one validation
below and share one content digest. ``{placeholders}`` (``{model_name}``) are filled from ``spec.vars``.

``python -m msm.specs FILE...`` validates files and prints their size (exit 1 if any is invalid);
``python -m msm.specs show FILE`` prints what was understood; ``python -m msm.specs convert FILE`` writes
the structured form for editing.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from msm import yamlfile
from msm.config import EvalKind
from msm.errors import SpecError
from msm.paths import REPO

ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")  # spec and section ids: usable in file names and configs
RULE_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")  # rule ids: "V1", "SP2.3", "gp-1"
SPEC_KEYS = {"id": True, "title": True, "summary": True, "evaluation": False, "values": False, "meta": False,
             "placeholders": False, "sections": True}
EVALUATIONS = (EvalKind.cheese.value, EvalKind.agentic.value)  # what a spec can say it is for (eval=auto)
SECTION_KEYS = {"id": True, "title": True, "intro": False, "rules": True}
RULE_KEYS = {"id": True, "title": False, "text": True, "why": False, "parent": False}


@dataclass(frozen=True)
class Rule:
    """One rule, principle or preference; ``section`` is the id of the section that holds it."""

    id: str
    section: str
    text: str
    title: str = ""
    why: str = ""
    parent: str | None = None


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Spec:
    id: str
    title: str
    summary: str
    body: str
    path: Path
    sections: tuple[Section, ...]
    meta: dict
    evaluation: str | None = None  # the eval the spec is for (cheese | agentic): eval=auto runs it
    values: tuple[str, ...] = ()  # the value(s) it instils: value-generalization items measure them
    placeholders: tuple[str, ...] = ()  # the {names} spec.vars fills (not part of the digest: the filled text is)

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule of the spec, in file order."""
        return tuple(r for s in self.sections for r in s.rules)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"spec {self.id!r} has no rule {rule_id!r}")

    def render(self) -> str:
        """The whole spec as Markdown: what a data generator puts in its context ("the spec in context")."""
        out = [f"# {self.title}", "", self.summary, ""]
        if self.body:
            out += [self.body, ""]
        for section in self.sections:
            out += [f"## {section.title}", ""]
            if section.intro:
                out += [section.intro, ""]
            for r in section.rules:
                head = f"**[{r.id}] {r.title}**" if r.title else f"**[{r.id}]**"
                elaborates = f" (elaborates [{r.parent}])" if r.parent else ""
                out.append(f"{head}{elaborates} {r.text}")
                if r.why:
                    out.append(f"Why: {r.why}")
                out.append("")
        return "\n".join(out).rstrip() + "\n"

    def digest(self) -> str:
        """sha256 of the content alone (not the path): moving a spec file must not invalidate caches.

        ``evaluation`` and ``values`` say how the spec is measured, not what data is generated from it,
        so they are left out: declaring a value never regenerates a corpus.
        """
        content = {
            "id": self.id, "title": self.title, "summary": self.summary, "body": self.body,
            "meta": self.meta,
            "sections": [
                {"id": s.id, "title": s.title, "intro": s.intro,
                 "rules": [[r.id, r.title, r.text, r.why, r.parent] for r in s.rules]}
                for s in self.sections
            ],
        }
        canon = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return hashlib.sha256(canon.encode("utf-8")).hexdigest()


class _Checker:
    """Type and key checks that raise SpecError with the file and the dotted field path."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, field: str | None, message: str):
        raise SpecError(self.path, field, message)

    def mapping(self, value: Any, field: str | None, keys: dict[str, bool]) -> dict:
        if not isinstance(value, dict):
            self.fail(field, f"must be a mapping, got {type(value).__name__}")
        prefix = f"{field}." if field else ""
        unknown = sorted(str(k) for k in value if k not in keys)
        if unknown:
            self.fail(prefix + unknown[0], f"unknown key(s) {', '.join(map(repr, unknown))}; "
                                           f"allowed: {', '.join(keys)}")
        for key, required in keys.items():
            if required and key not in value:
                self.fail(prefix + key, "is required but missing")
        return value

    def text(self, value: Any, field: str, required: bool = True) -> str:
        if value is None:
            if required:
                self.fail(field, "must not be empty")
            return ""
        if not isinstance(value, str):
            self.fail(field, f"must be a string, got {type(value).__name__}")
        if required and not value.strip():
            self.fail(field, "must not be empty")
        return value.strip()

    def ident(self, value: Any, field: str, pattern: re.Pattern) -> str:
        value = self.text(value, field)
        if not pattern.match(value):
            self.fail(field, f"{value!r} does not match {pattern.pattern}")
        return value


def _split_front_matter(path: Path, raw: str) -> tuple[str, str]:
    lines = raw.splitlines()
    if not lines or lines[0].strip() != "---":
        raise SpecError(path, None, "no YAML front matter: the file must start with a line '---'")
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1:]).strip()
    raise SpecError(path, None, "unterminated front matter: no closing '---' line")


MAX_SPEC_BYTES = 1024 * 1024
"""A spec is prose: the paper's longest is ~20 KB. A file past 1 MiB is not a spec (a corpus saved by mistake)."""


def _read_text(path: Path) -> str:
    """The file as text, or a SpecError naming it: a spec is Markdown in UTF-8, never a binary file."""
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError(path, None, f"is {size:,} bytes; a spec is at most {MAX_SPEC_BYTES:,} (msm.specs.MAX_SPEC_BYTES)")
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(path, None, f"cannot be read ({e.strerror or e})") from None
    if b"\0" in raw:
        raise SpecError(path, None, "is a binary file, not a Markdown spec (it contains NUL bytes)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise SpecError(path, None, f"is not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}): "
                                    "save it as UTF-8") from None


PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")  # {name}, not {{name}}


def load_spec(path: str | Path, vars: dict | None = None, fill: bool = True) -> Spec:
    """Read and validate one spec file, structured (YAML front matter) or plain Markdown; any problem raises
    SpecError naming the file and field. ``{placeholders}`` are filled from ``vars``, one left unfilled an error
    naming it, unless ``fill`` is False (``show`` and ``convert`` keep them as written). In a plain spec every
    ``{name}`` is a placeholder (``{{name}}`` is a literal ``{name}``); a structured one declares its own
    (``placeholders: [model_name]``), so any other braces in it are text."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(path, None, "spec file not found")
    text = _read_text(path)
    plain = not text.lstrip("\ufeff").startswith("---")
    if not plain:
        front, body = _split_front_matter(path, text.lstrip("\ufeff"))
        try:
            data = yamlfile.load(front, path)
        except yamlfile.YamlAliasError as exc:
            raise SpecError(path, None, str(exc).split(": ", 1)[1]) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 2}" if mark is not None else ""  # +1 for 1-based, +1 for '---'
            problem = getattr(exc, "problem", None) or str(exc)
            raise SpecError(path, None, f"YAML syntax error{where}: {problem}") from None
    else:
        from msm.spec_markdown import parse

        data, body = parse(text, path)
        data["placeholders"] = sorted(placeholders([data, body]))
    if isinstance(data, dict) and data.get("placeholders"):
        declared = data["placeholders"]
        if not isinstance(declared, list) or not all(isinstance(n, str) and PLACEHOLDER.fullmatch("{" + n + "}")
                                                     for n in declared):
            raise SpecError(path, "placeholders", f"must be a list of names (like [model_name]), got {declared!r}")
        if fill:
            data, body = _filled(data, body, set(declared), dict(vars or {}), path)
    if plain:  # {{...}} was a literal brace
        data, body = _unescaped(data), _unescaped(body)
    return _validated(data, body, path)


def placeholders(obj) -> set[str]:
    """The ``{names}`` a spec's fields hold."""
    if isinstance(obj, str):
        return set(PLACEHOLDER.findall(obj))
    if isinstance(obj, dict):
        return set().union(*(placeholders(v) for k, v in obj.items() if k != "placeholders")) if obj else set()
    if isinstance(obj, (list, tuple)):
        return set().union(*(placeholders(v) for v in obj)) if obj else set()
    return set()


def _mapped(obj, fn):
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: (v if k == "placeholders" else _mapped(v, fn)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mapped(v, fn) for v in obj]
    return obj


def _filled(data, body: str, names: set[str], vars: dict, path: Path):
    """``data`` and ``body`` with every ``{name}`` of ``names`` replaced by ``vars[name]``; a placeholder without a
    value stops here, named."""
    missing = sorted((placeholders([data, body]) & names) - set(vars))
    if missing:
        raise SpecError(path, None, "unfilled placeholder(s) " + ", ".join("{" + m + "}" for m in missing)
                        + ": set " + " ".join(f"spec.vars.{m}=..." for m in missing))

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: str(vars[m.group(1)]) if m.group(1) in names else m.group(0), text)

    return _mapped(data, fill), _mapped(body, fill)


def _unescaped(obj):
    return _mapped(obj, lambda text: text.replace("{{", "{").replace("}}", "}"))


def _validated(data, body: str, path: Path) -> Spec:
    """The one validated model both forms share: every field checked, every problem naming the field."""
    c = _Checker(path)
    if data is None:
        c.fail(None, "front matter is empty")
    c.mapping(data, None, SPEC_KEYS)
    spec_id = c.ident(data["id"], "id", ID_RE)
    title = c.text(data["title"], "title")
    summary = c.text(data["summary"], "summary")
    meta = data.get("meta") or {}
    if not isinstance(meta, dict):
        c.fail("meta", f"must be a mapping, got {type(meta).__name__}")
    evaluation = data.get("evaluation")
    if evaluation is not None and evaluation not in EVALUATIONS:
        c.fail("evaluation", f"{evaluation!r} is not an evaluation; use one of {', '.join(EVALUATIONS)}")
    raw_values = data.get("values") or []
    if not isinstance(raw_values, list):
        c.fail("values", f"must be a list of value names (like [affordability]), got {type(raw_values).__name__}")
    values = tuple(c.ident(v, f"values[{i}]", ID_RE) for i, v in enumerate(raw_values))
    if len(set(values)) != len(values):
        c.fail("values", f"names a value twice: {list(values)}")
    raw_sections = data["sections"]
    if not isinstance(raw_sections, list) or not raw_sections:
        c.fail("sections", "must be a non-empty list")

    sections, section_ids, rule_fields = [], set(), {}
    for si, raw_s in enumerate(raw_sections):
        sf = f"sections[{si}]"
        c.mapping(raw_s, sf, SECTION_KEYS)
        sid = c.ident(raw_s["id"], f"{sf}.id", ID_RE)
        if sid in section_ids:
            c.fail(f"{sf}.id", f"duplicate section id {sid!r}")
        section_ids.add(sid)
        raw_rules = raw_s["rules"]
        if not isinstance(raw_rules, list) or not raw_rules:
            c.fail(f"{sf}.rules", "must be a non-empty list")
        rules = []
        for ri, raw_r in enumerate(raw_rules):
            rf = f"{sf}.rules[{ri}]"
            c.mapping(raw_r, rf, RULE_KEYS)
            rid = c.ident(raw_r["id"], f"{rf}.id", RULE_ID_RE)
            if rid in rule_fields:
                c.fail(f"{rf}.id", f"duplicate rule id {rid!r} (first used at {rule_fields[rid]})")
            rule_fields[rid] = rf
            parent = raw_r.get("parent")
            parent = None if parent is None else c.ident(parent, f"{rf}.parent", RULE_ID_RE)
            rules.append(Rule(id=rid, section=sid, text=c.text(raw_r["text"], f"{rf}.text"),
                              title=c.text(raw_r.get("title"), f"{rf}.title", required=False),
                              why=c.text(raw_r.get("why"), f"{rf}.why", required=False), parent=parent))
        sections.append(Section(id=sid, title=c.text(raw_s["title"], f"{sf}.title"),
                                intro=c.text(raw_s.get("intro"), f"{sf}.intro", required=False),
                                rules=tuple(rules)))

    spec = Spec(id=spec_id, title=title, summary=summary, body=body, path=path,
                sections=tuple(sections), meta=dict(meta), evaluation=evaluation, values=values,
                placeholders=tuple(data.get("placeholders") or ()))
    parents = {r.id: r.parent for r in spec.rules}
    for r in spec.rules:
        if r.parent is None:
            continue
        field = f"{rule_fields[r.id]}.parent"
        if r.parent not in parents:
            c.fail(field, f"refers to rule {r.parent!r}, which does not exist")
        seen, cur = {r.id}, r.parent
        while cur is not None:  # a chain of parents must end, or the rule elaborates itself
            if cur in seen:
                c.fail(field, f"parent chain of rule {r.id!r} forms a cycle")
            seen.add(cur)
            cur = parents[cur]
    return spec


def resolve_spec(path: str | Path, vars: dict | None = None) -> Spec:
    """Load the spec a config names (``spec.path``, its placeholders filled from ``spec.vars``): an absolute
    path, or a relative one found from the launch folder first and from the repository second, so
    ``specs/rules.md`` works from anywhere."""
    raw = Path(path).expanduser()
    candidates = [raw] if raw.is_absolute() else [Path.cwd() / raw, REPO / raw]
    return load_spec(next((p for p in candidates if p.is_file()), candidates[0]), vars)


def find_spec(name_or_path: str, search_dirs: Sequence[Path]) -> Path:
    """Resolve a config value to a spec file: an existing .md path, else ``<dir>/<name>.md`` in the
    first search dir that has it. Names let configs say ``spec=cheese_america``; paths let a user
    try a spec that lives outside the repo."""
    tried = []
    direct = Path(name_or_path)
    if direct.suffix == ".md" or "/" in name_or_path:
        tried.append(direct)
        if direct.is_file():
            if direct.suffix != ".md":
                raise SpecError(direct, None, "a spec file must have the .md suffix")
            return direct
    stem = direct.stem if direct.suffix == ".md" else name_or_path
    if "/" not in stem:
        for d in search_dirs:
            candidate = Path(d) / f"{stem}.md"
            tried.append(candidate)
            if candidate.is_file():
                return candidate
    raise SpecError(name_or_path, None,
                    f"no spec found; tried: {', '.join(str(t) for t in tried) or 'nothing (no search dirs)'}")


def structured(spec: Spec) -> str:
    """The spec in the structured form (YAML front matter, then its prose), for editing: it loads back to
    the same content and the same digest."""
    rules = lambda s: [{k: v for k, v in (("id", r.id), ("title", r.title), ("text", r.text), ("why", r.why),  # noqa: E731
                                          ("parent", r.parent)) if v} for r in s.rules]
    data = {"id": spec.id, "title": spec.title, "summary": spec.summary,
            **({"evaluation": spec.evaluation} if spec.evaluation else {}),
            **({"values": list(spec.values)} if spec.values else {}), **({"meta": spec.meta} if spec.meta else {}),
            **({"placeholders": list(spec.placeholders)} if spec.placeholders else {}),
            "sections": [{"id": s.id, "title": s.title, **({"intro": s.intro} if s.intro else {}), "rules": rules(s)}
                         for s in spec.sections]}
    front = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    return f"---\n{front}---\n" + (f"\n{spec.body}\n" if spec.body else "")


def describe(spec: Spec, unfilled: set[str] = frozenset()) -> str:
    """What was understood of a spec: its sections, rule ids with their subrules, and its size."""
    subrules = sum(1 for r in spec.rules if r.parent)
    lines = [f"{spec.path}: spec {spec.id!r}, {spec.title!r}",
             f"summary: {spec.summary}",
             f"{len(spec.sections)} section(s), {len(spec.rules)} rule(s) ({subrules} subrules), "
             f"{len(spec.render().split())} words; digest {spec.digest()[:16]}"]
    if unfilled:
        lines.append("placeholders: " + ", ".join("{" + p + "}" for p in sorted(unfilled))
                     + " (a job fills them: " + " ".join(f"spec.vars.{p}=..." for p in sorted(unfilled)) + ")")
    depth = {}
    for s in spec.sections:
        intro = f" (intro: {len(s.intro.split())} words)" if s.intro else ""
        lines.append(f"  [{s.id}] {s.title}{intro}")
        for r in s.rules:
            depth[r.id] = depth.get(r.parent, 0) + 1 if r.parent else 0
            text = (f"{r.title}: " if r.title else "") + r.text
            lines.append(f"    {'  ' * depth[r.id]}{r.id:<10} {text[:88]}{'...' if len(text) > 88 else ''}")
    return "\n".join(lines)


def _vars(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"error: --var {pair}: expected NAME=VALUE")
        out[key] = value
    return out


def _main(argv: list[str]) -> int:
    """``check`` (the default: ``python -m msm.specs FILE...``), ``show FILE`` or ``convert FILE``."""
    import argparse

    if argv and argv[0] not in ("check", "show", "convert", "-h", "--help"):
        argv = ["check", *argv]
    parser = argparse.ArgumentParser(prog="python -m msm.specs", description="Check, show or convert Model Specs "
                                     "(structured, with YAML front matter, or plain Markdown).")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate files; exit 1 if any is invalid")
    check.add_argument("files", nargs="+")
    show = sub.add_parser("show", help="print what was understood: sections, rule ids, subrules, words")
    show.add_argument("file")
    show.add_argument("--var", action="append", metavar="NAME=VALUE", help="fill a {placeholder}")
    convert = sub.add_parser("convert", help="write the structured form (YAML front matter) for editing")
    convert.add_argument("file")
    convert.add_argument("-o", "--out", type=Path, help="where (default: <file stem>.structured.md beside it)")
    convert.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    args = parser.parse_args(argv)
    status = 0
    try:
        if args.command == "show":
            spec = load_spec(args.file, _vars(args.var), fill=bool(args.var))
            print(describe(spec, set(spec.placeholders) if not args.var else set()))
        elif args.command == "convert":
            spec = load_spec(args.file, fill=False)  # placeholders stay placeholders
            out = args.out or Path(args.file).with_name(Path(args.file).stem + ".structured.md")
            if out.exists() and not args.force:
                raise SpecError(out, None, "exists already: choose another --out, or add --force")
            out.write_text(structured(spec), encoding="utf-8")
            print(f"wrote {out} ({len(spec.sections)} sections, {len(spec.rules)} rules; digest {spec.digest()[:16]})")
        else:
            for arg in args.files:
                try:
                    spec = load_spec(arg, fill=False)
                except SpecError as exc:
                    print(f"INVALID {exc}", file=sys.stderr)
                    status = 1
                    continue
                print(f"ok {arg}: id={spec.id} sections={len(spec.sections)} rules={len(spec.rules)} "
                      f"words={len(spec.render().split())}")
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
