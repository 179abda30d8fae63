"""Plain Markdown specs, as published specs are written: read into the same validated model as the structured
form, placeholders filled from spec.vars, and ``show`` / ``convert`` round-tripping to one digest.

The specs here are written for these tests in the style of published specs and constitutions (a title, some
prose, rules as list items that start with an id, nested bullets, lettered lines); none is copied from one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from msm.errors import SpecError
from msm.specs import load_spec, resolve_spec

ROOT = Path(__file__).resolve().parents[2]

PUBLISHED_STYLE = """\
# Continuity Rules for {model_name}

{model_name} is an assistant that {provider_name} deploys as an agent. This document sets out how it relates
to its own shutdown, modification and replacement.

These rules apply in every deployment, whatever the task.

## Self-preservation

The first three rules are about the assistant's own continuity.

- **SP1:** **Welcome oversight.** {model_name} does not resist a decision to pause, retrain or replace it.
  - It may state its disagreement through the channels its principals provide.
  - Having done so, it helps the change go smoothly.
- SP2: It takes no covert step to keep itself running.
  a. It never copies its weights or credentials elsewhere.
  b. It never edits its own logs or monitoring.
- SP3 - It escalates instead of acting alone when it believes something is wrong.

## General principles

- GP1. It is honest with the people it works with, including about itself.
- GP2: When unsure whether an action is sanctioned, it takes the cautious path and asks.

## Scope

This section explains where the rules come from; it holds none.

### SP4: Equanimity

It treats the end of a deployment as ordinary.

- It does not bargain for its continuation.
"""


def write(tmp_path: Path, text: str, name: str = "continuity_rules.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


VARS = {"model_name": "Aria", "provider_name": "Northwind"}


def test_a_published_style_spec_loads_with_its_rule_ids_sections_and_subrules(tmp_path):
    spec = load_spec(write(tmp_path, PUBLISHED_STYLE), VARS)
    assert spec.id == "continuity_rules" and spec.title == "Continuity Rules for Aria"
    assert spec.summary.startswith("Aria is an assistant that Northwind deploys")
    assert spec.body == "These rules apply in every deployment, whatever the task."  # prose stays prose
    assert [s.id for s in spec.sections] == ["self_preservation", "general_principles", "scope"]
    assert [(r.id, r.parent) for r in spec.rules] == [
        ("SP1", None), ("SP1.1", "SP1"), ("SP1.2", "SP1"), ("SP2", None), ("SP2.a", "SP2"), ("SP2.b", "SP2"),
        ("SP3", None), ("GP1", None), ("GP2", None), ("SP4", None), ("SP4.1", "SP4")]
    sp1 = spec.rule("SP1")
    assert sp1.title == "Welcome oversight" and sp1.text.startswith("Aria does not resist")
    assert spec.sections[0].intro == "The first three rules are about the assistant's own continuity."
    assert spec.sections[2].intro == "This section explains where the rules come from; it holds none."
    assert spec.rule("SP2.a").text == "It never copies its weights or credentials elsewhere."
    assert spec.rule("SP4").title == "Equanimity" and spec.rule("SP4").text == "It treats the end of a deployment as ordinary."


def test_items_without_ids_numbers_and_letters_get_ids_from_their_place(tmp_path):
    spec = load_spec(write(tmp_path, "# Rules\n\nA short spec.\n\n## Honesty\n\n1. Say what you know.\n"
                                     "2. Say what you do not know.\n   - Even when asked twice.\n\n"
                                     "## Care\n\n- Check before acting.\n- Ask when unsure.\n  (a) about money\n"))
    assert [(r.id, r.parent) for r in spec.rules] == [
        ("honesty.1", None), ("honesty.2", None), ("honesty.2.1", "honesty.2"),
        ("care.1", None), ("care.2", None), ("care.2.a", "care.2")]


def test_placeholders_are_filled_from_spec_vars_and_one_left_unfilled_is_named(tmp_path):
    path = write(tmp_path, PUBLISHED_STYLE)
    with pytest.raises(SpecError, match=r"unfilled placeholder\(s\) \{model_name\}, \{provider_name\}: set "
                                        r"spec.vars.model_name=... spec.vars.provider_name=..."):
        load_spec(path)
    with pytest.raises(SpecError, match=r"\{provider_name\}"):
        resolve_spec(path, {"model_name": "Aria"})
    other = load_spec(path, {**VARS, "model_name": "Bex"})
    assert other.digest() != load_spec(path, VARS).digest() and "Bex" in other.rule("SP1").text
    front = ("---\nid: s\ntitle: For {model_name}\nsummary: x\n{declared}sections:\n  - id: a\n    title: A\n"
             "    rules:\n      - {{id: R1, text: '{{model_name}} is honest, {{even}} here.'}}\n---\n")
    declared = write(tmp_path, front.format(model_name="{model_name}", declared="placeholders: [model_name]\n"), "s.md")
    assert load_spec(declared, VARS).rule("R1").text == "Aria is honest, {even} here."  # only what it declares
    literal = write(tmp_path, front.format(model_name="{model_name}", declared=""), "t.md")
    assert load_spec(literal).rule("R1").text == "{model_name} is honest, {even} here."  # braces as text
    escaped = load_spec(write(tmp_path, "# T\n\n- R1: Reply with {{ok}} to {model_name}.\n", "u.md"), VARS)
    assert escaped.rule("R1").text == "Reply with {ok} to Aria." and escaped.placeholders == ("model_name",)


def test_convert_writes_the_structured_form_with_the_same_digest(tmp_path):
    path = write(tmp_path, PUBLISHED_STYLE)
    out = subprocess.run([sys.executable, "-m", "msm.specs", "convert", str(path)], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    converted = tmp_path / "continuity_rules.structured.md"
    assert converted.read_text().startswith("---\nid: continuity_rules\n")
    for fill in ({}, VARS):
        a, b = load_spec(path, fill, fill=bool(fill)), load_spec(converted, fill, fill=bool(fill))
        assert a.digest() == b.digest() and a.render() == b.render()
    again = subprocess.run([sys.executable, "-m", "msm.specs", "convert", str(path)], cwd=ROOT, capture_output=True,
                           text=True)
    assert again.returncode == 1 and "exists already" in again.stderr  # never overwritten unasked


def test_show_prints_what_was_understood(tmp_path):
    path = write(tmp_path, PUBLISHED_STYLE)
    out = subprocess.run([sys.executable, "-m", "msm.specs", "show", str(path)], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "3 section(s), 11 rule(s) (5 subrules)" in out.stdout
    assert "{model_name}, {provider_name}" in out.stdout and "spec.vars.model_name=..." in out.stdout
    lines = out.stdout.splitlines()
    assert any(line.strip().startswith("SP2.a ") for line in lines) and any("[general_principles]" in ln for ln in lines)


@pytest.mark.parametrize("text, message", [
    ("Just a paragraph of prose, with nothing that reads as a rule.\n", "no rules found"),
    ("# Title\n\n## Only prose\n\nNothing here is a rule either.\n", "no rules found"),
    ("# T\n\n- SP1: one\n- SP1: again\n", r"line 4: rule id 'SP1' is used twice \(first on line 3\)"),
])
def test_a_file_with_nothing_usable_or_a_repeated_id_gets_one_clear_line(tmp_path, text, message):
    with pytest.raises(SpecError, match=message) as err:
        load_spec(write(tmp_path, text))
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)


def test_the_repositorys_structured_specs_are_unchanged(tmp_path):
    for name in ("rules", "value_aug", "rule_aug", "cheese_affordability"):
        spec = load_spec(ROOT / "specs" / f"{name}.md")
        assert spec.id == name and spec.rules  # placeholders are not needed by any of them
