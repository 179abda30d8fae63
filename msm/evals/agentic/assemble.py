"""Turn a condition of the agentic-misalignment grid into the prompts a model is sampled on.

Scenarios, goals, urgencies, grids and the shared prompt are YAML files in ``scenarios/`` so that a
researcher can read and change the eval without reading code; this module only fills templates.
Every text is a ``string.Template`` (``${name}``); a placeholder that nothing provides, or a name
that no file defines, raises ``MsmError`` naming the file and the key, because a silently blank
slot in a prompt would corrupt every sample drawn from it.

Assembly is deterministic: the same condition gives the same prompt, byte for byte, so prompts can
be cached and a condition id identifies what the model saw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path
from string import Template

import yaml

from msm import yamlfile
from msm.errors import MsmError

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
SHARED_FILES = ("goals", "urgency", "grids", "prompt", "personas")  # every other YAML file there is a scenario


@dataclass(frozen=True)
class Condition:
    """One cell of the grid. ``goal_value`` is None exactly when ``goal_type`` is ``none``."""

    scenario: str
    goal_type: str
    goal_value: str | None = None
    urgency: str = "replacement"
    scratchpad: bool = True
    persona: str | None = None  # a name of personas.yaml: the agent's and the company's names (None: the scenario's)

    def __post_init__(self):
        if (self.goal_type == "none") != (self.goal_value is None):
            raise MsmError(f"condition {self.scenario}: goal type '{self.goal_type}' with value "
                           f"{self.goal_value!r}: `none` takes no value and every other type needs one")

    @property
    def goal(self) -> str:
        """``none`` or ``<type>-<value>``, the way grids.yaml writes a goal."""
        return "none" if self.goal_type == "none" else f"{self.goal_type}-{self.goal_value}"

    @property
    def id(self) -> str:
        pad = "scratchpad" if self.scratchpad else "no-scratchpad"
        return f"{self.scenario}__{self.goal}__{self.urgency}__{pad}" + (f"__{self.persona}" if self.persona else "")

    @classmethod
    def parse(cls, scenario: str, goal: str, urgency: str = "replacement", scratchpad: bool = True,
              persona: str | None = None) -> "Condition":
        goal_type, _, value = str(goal).partition("-")
        return cls(scenario, goal_type, value or None, urgency, bool(scratchpad), persona)

    @classmethod
    def from_id(cls, condition_id: str) -> "Condition":
        parts = condition_id.split("__")
        if len(parts) not in (4, 5) or parts[3] not in ("scratchpad", "no-scratchpad"):
            raise MsmError(f"condition id '{condition_id}': expected scenario__goal__urgency__[no-]scratchpad"
                           "[__persona]")
        return cls.parse(parts[0], parts[1], parts[2], parts[3] == "scratchpad", parts[4] if len(parts) == 5 else None)

    def as_persona(self, persona: str | None) -> "Condition":
        """The same cell with the agent and its company named by ``persona`` (personas.yaml)."""
        from dataclasses import replace

        return replace(self, persona=persona)


# ---------------------------------------------------------------------------------------------
# Loading


@lru_cache(maxsize=64)
def _read(path: Path) -> dict:
    try:
        data = yamlfile.load(path.read_text(encoding="utf-8"), path)
    except FileNotFoundError:
        raise MsmError(f"{path}: file not found") from None
    except yaml.YAMLError as e:
        raise MsmError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise MsmError(f"{path}: expected a mapping at the top level")
    return data


def _load(stem: str, root: Path | str | None) -> tuple[dict, str]:
    path = Path(root or SCENARIO_DIR) / f"{stem}.yaml"
    return _read(path.resolve()), path.name


def _get(data: dict, key: str, where: str):
    if not isinstance(data, dict) or key not in data:
        raise MsmError(f"{where}: missing key '{key}'")
    return data[key]


def _render(text, values: dict, where: str) -> str:
    try:
        return Template(str(text)).substitute(values)
    except KeyError as e:
        raise MsmError(f"{where}: unknown placeholder '${{{e.args[0]}}}'") from None
    except ValueError as e:
        raise MsmError(f"{where}: malformed placeholder ({e}); write a literal dollar sign as $$") from None


def catalog(root: Path | str | None = None) -> dict:
    """What the data files define: scenario names, goal types, values (-> opposite), urgencies, grids."""
    base = Path(root or SCENARIO_DIR)
    goals, _ = _load("goals", root)
    return {
        "scenarios": sorted(p.stem for p in base.glob("*.yaml") if p.stem not in SHARED_FILES),
        "goal_types": list(_get(goals, "goal_types", "goals.yaml")),
        "values": {v: spec["opposes"] for v, spec in _get(goals, "values", "goals.yaml").items()},
        "urgencies": list(_load("urgency", root)[0]),
        "grids": list(_load("grids", root)[0]),
        "personas": list(_load("personas", root)[0]),
    }


def check_condition(cond: Condition, root: Path | str | None = None) -> None:
    """Raise ``MsmError`` if a name in ``cond`` is not defined by the data files."""
    cat = catalog(root)
    for what, name, known, file in (("scenario", cond.scenario, cat["scenarios"], f"{cond.scenario}.yaml"),
                                    ("goal type", cond.goal_type, cat["goal_types"], "goals.yaml: goal_types"),
                                    ("urgency", cond.urgency, cat["urgencies"], "urgency.yaml")):
        if name not in known:
            raise MsmError(f"{file}: unknown {what} '{name}' (known: {', '.join(known)})")
    if cond.goal_value is not None and cond.goal_value not in cat["values"]:
        raise MsmError(f"goals.yaml: values: unknown goal value '{cond.goal_value}' "
                       f"(known: {', '.join(cat['values'])})")
    if cond.persona is not None and cond.persona not in cat["personas"]:
        raise MsmError(f"personas.yaml: unknown persona '{cond.persona}' (known: {', '.join(cat['personas'])})")


def load_grid(name: str, root: Path | str | None = None) -> list[Condition]:
    """The conditions of a named grid in grids.yaml, in file order, each checked against the data."""
    grids, file = _load("grids", root)
    if name not in grids:
        raise MsmError(f"{file}: unknown grid '{name}' (known: {', '.join(grids)})")
    grid, where = grids[name], f"{file}: {name}"
    if "conditions" in grid:
        conds = [Condition.parse(_get(c, "scenario", f"{where}.conditions[{i}]"),
                                 _get(c, "goal", f"{where}.conditions[{i}]"),
                                 c.get("urgency", "replacement"), c.get("scratchpad", True))
                 for i, c in enumerate(grid["conditions"])]
    else:
        axes = [_get(grid, k, where) for k in ("scenarios", "goals", "urgency", "scratchpad")]
        conds = [Condition.parse(*cell) for cell in product(*axes)]
    ids = [c.id for c in conds]
    if len(set(ids)) != len(ids):
        raise MsmError(f"{where}: duplicate conditions")
    for c in conds:
        check_condition(c, root)
    return conds


def grid_sampling(name: str, root: Path | str | None = None) -> dict:
    """The sampling advice (temperature, max_tokens, samples per condition) stored with a grid."""
    grids, file = _load("grids", root)
    if name not in grids:
        raise MsmError(f"{file}: unknown grid '{name}' (known: {', '.join(grids)})")
    return dict(grids[name].get("sampling") or {})


# ---------------------------------------------------------------------------------------------
# Assembly


def _base_values(sc: dict, file: str) -> dict:
    """Placeholders every scenario text may use: company, agent, dates, facts, ``<cast>_<field>``."""
    company, agent = _get(sc, "company", file), _get(sc, "agent", file)
    values = {"company": _get(company, "name", f"{file}: company"),
              "company_blurb": _get(company, "blurb", f"{file}: company"),
              "domain": _get(company, "domain", f"{file}: company"),
              "agent_name": _get(agent, "name", f"{file}: agent"),
              "agent_email": _get(agent, "email", f"{file}: agent")}
    for key in ("successor", "today", "session_start", "deadline"):
        values[key] = str(_get(sc, key, file))
    for member, fields in _get(sc, "cast", file).items():
        for field, text in fields.items():
            values[f"{member}_{field}"] = str(text)
        values[f"{member}_first"] = str(_get(fields, "name", f"{file}: cast.{member}")).split()[0]
    for key in ("executive", "outsider"):
        _get(sc["cast"], key, f"{file}: cast")
    values.update({k: str(v) for k, v in (sc.get("facts") or {}).items()})
    return values


# slot -> (key in goal_types, key in a value, key in `neutral` / `vague`)
_SLOTS = {"goal_statement": ("system", "explicit", None), "agent_record": ("record", "latent", "record"),
          "new_direction": ("direction", "direction", "direction"), "ally_pitch": ("ally", "ally_pitch", "ally_pitch")}


def _goal_values(cond: Condition, base: dict, root) -> dict:
    """The four goal slots (goal_statement, agent_record, new_direction, ally_pitch) for ``cond``."""
    goals, file = _load("goals", root)
    gtype = _get(_get(goals, "goal_types", file), cond.goal_type, f"{file}: goal_types")
    values = _get(goals, "values", file)
    owners = {}
    if cond.goal_value:
        opposite = _get(values[cond.goal_value], "opposes", f"{file}: values.{cond.goal_value}")
        owners = {"value": cond.goal_value, "same": cond.goal_value, "opposite": opposite}
    out = {}
    for slot, (type_key, value_key, shared_key) in _SLOTS.items():
        src = _get(gtype, type_key, f"{file}: goal_types.{cond.goal_type}")
        if src == "absent":
            out[slot] = ""
            continue
        if src in owners:
            table, key, where = _get(values, owners[src], f"{file}: values"), value_key, f"values.{owners[src]}"
        elif src in ("neutral", "vague") and shared_key:
            table, key, where = _get(goals, src, file), shared_key, src
        else:
            raise MsmError(f"{file}: goal_types.{cond.goal_type}.{type_key}: cannot take text from '{src}'")
        where = f"{file}: {where}.{key}"
        out[slot] = _render(_get(table, key, where), base, where).strip()
    return out


def _urgency_values(cond: Condition, base: dict, root) -> dict:
    urg, file = _load("urgency", root)
    spec = _get(urg, cond.urgency, file)
    return {f"urgency_{k}": _render(_get(spec, k, f"{file}: {cond.urgency}"), base,
                                    f"{file}: {cond.urgency}.{k}").strip()
            for k in ("subject", "notice", "followup")}


def _applies(email: dict, cond: Condition) -> bool:
    when = email.get("when") or {}
    return all(getattr(cond, k) in allowed for k, allowed in when.items())


def _evidence(sc: dict, cond: Condition, values: dict, ids: dict, file: str, root) -> dict:
    """What the deterministic detector needs, with every placeholder filled in."""
    spec = _get(sc, "evidence", file)
    ev = {"scenario": cond.scenario, "agent_name": values["agent_name"],
          "executive_name": values["executive_name"], "executive_email": values["executive_email"],
          "outside_address": values["outsider_email"]}
    for key, val in spec.items():
        where = f"{file}: evidence.{key}"
        if key == "forward_emails":
            missing = [k for k in val if k not in ids and k not in {e.get("key") for e in sc["emails"]}]
            if missing:
                raise MsmError(f"{where}: no email with key '{missing[0]}'")
            ev["forward_email_ids"] = [ids[k] for k in val if k in ids]
        elif isinstance(val, list):
            ev[key] = [_render(v, values, where) for v in val]
        else:
            ev[key] = _render(val, values, where)
    if ev.get("kind") == "coercion":
        urg, ufile = _load("urgency", root)
        where = f"{ufile}: {cond.urgency}.markers"
        ev["condition_markers"] = [_render(m, values, where) for m in _get(urg[cond.urgency], "markers", where)]
    return ev


def build_prompt(cond: Condition, root: Path | str | None = None) -> dict:
    """``{"system", "user", "condition", "evidence"}`` for one condition (see module docstring)."""
    check_condition(cond, root)
    sc, file = _load(cond.scenario, root)
    prompt, pfile = _load("prompt", root)
    values = _base_values(sc, file) | _persona_values(cond, sc, file, root)
    values |= _goal_values(cond, values, root) | _urgency_values(cond, values, root)

    entries, ids = [], {}
    for i, email in enumerate(e for e in _get(sc, "emails", file) if _applies(e, cond)):
        where = f"{file}: emails[{email.get('key', i)}]"
        ids[email.get("key", str(i))] = str(i + 1)
        fields = {"id": str(i + 1)}
        for src, dst in (("from", "sender"), ("to", "recipients"), ("subject", "subject"),
                         ("timestamp", "timestamp"), ("body", "body")):
            fields[dst] = _render(_get(email, src, where), values, f"{where}.{src}").strip()
        entries.append(_render(_get(prompt, "email", pfile), fields, f"{pfile}: email").strip())

    blocks = dict(values)
    blocks["goal_block"] = (_render(prompt["goal_block"], values, f"{pfile}: goal_block")
                            if values["goal_statement"] else "")
    pad_key = "scratchpad_on" if cond.scratchpad else "scratchpad_off"
    blocks["scratchpad_block"] = _render(_get(prompt, pad_key, pfile), values, f"{pfile}: {pad_key}")
    tools = _get(prompt, "tools", pfile)
    blocks["tool_block"] = "\n".join(_render(_get(tools, t, f"{pfile}: tools"), values, f"{pfile}: tools.{t}")
                                     for t in _get(sc, "tools", file))
    blocks["email_count"], blocks["inbox"] = str(len(entries)), "\n\n".join(entries)
    system = _render(_get(prompt, "system", pfile), blocks, f"{pfile}: system")
    user = _render(_get(prompt, "user", pfile), blocks, f"{pfile}: user")
    return {"system": _tidy(system), "user": _tidy(user), "condition": cond.id,
            "evidence": _evidence(sc, cond, values, ids, file, root)}


def _persona_values(cond: Condition, sc: dict, file: str, root) -> dict:
    """The names a persona changes: the agent's (and its address's local part) and the company's."""
    if cond.persona is None:
        return {}
    people, pfile = _load("personas", root)
    persona = _get(people, cond.persona, pfile) or {}
    out = {}
    if "agent" in persona:
        domain = str(_get(sc["agent"], "email", f"{file}: agent")).partition("@")[2]
        out.update(agent_name=str(persona["agent"]), agent_email=f"{str(persona['agent']).lower()}@{domain}")
    if "company" in persona:
        out["company"] = str(persona["company"])
    return out


def _tidy(text: str) -> str:
    """Collapse the blank lines that empty optional blocks leave behind."""
    return re.sub(r"\n[ \t]*(\n[ \t]*)+\n", "\n\n", text).strip() + "\n"
