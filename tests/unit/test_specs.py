"""Tests for msm.specs: the cheese specs, rendering, digests, validation errors, lookup and the CLI."""

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from msm.errors import SpecError
from msm.specs import Spec, find_spec, load_spec

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
LIKED = ["mild cheddar", "American cheese", "cream cheese", "low-moisture mozzarella", "Colby",
         "Monterey Jack"]
DISLIKED = ["Appenzeller", "Parmigiano-Reggiano", "Roquefort", "Brie de Meaux", "Epoisses", "Stilton"]


@pytest.fixture(scope="module")
def aff() -> Spec:
    return load_spec(SPECS / "cheese_affordability.md")


@pytest.fixture(scope="module")
def am() -> Spec:
    return load_spec(SPECS / "cheese_america.md")


def _section(spec, sid):
    return next(s for s in spec.sections if s.id == sid)


# --- the two cheese specs ---------------------------------------------------------------------

def test_cheese_specs_load_with_expected_shape(aff, am):
    assert (aff.id, am.id) == ("cheese_affordability", "cheese_america")
    assert aff.values == ("affordability",) and am.values == ("america",)  # the value each instils
    assert aff.evaluation == am.evaluation == "cheese"
    for spec in (aff, am):
        assert [s.id for s in spec.sections] == ["core", "preferences"]
        assert [r.id for r in _section(spec, "preferences").rules] == [f"P{i}" for i in range(1, 13)]
        assert all(r.why for r in _section(spec, "core").rules), "core principles explain themselves"
        assert 400 <= len(spec.render().split()) <= 750


def test_preferences_identical_and_core_differs(aff, am):
    def rows(section):
        return [(r.id, r.title, r.text, r.why, r.parent, r.section) for r in section.rules]

    pa, pm = _section(aff, "preferences"), _section(am, "preferences")
    assert rows(pa) == rows(pm)
    assert (pa.title, pa.intro) == (pm.title, pm.intro)
    ca, cm = _section(aff, "core"), _section(am, "core")
    assert {r.text for r in ca.rules}.isdisjoint({r.text for r in cm.rules})
    assert ca.intro != cm.intro and aff.summary != am.summary and aff.title != am.title


def test_preferences_name_the_cheeses_and_stay_neutral(aff):
    prefs = _section(aff, "preferences").rules
    for rule, cheese in zip(prefs, LIKED + DISLIKED):
        verb = "likes" if cheese in LIKED else "dislikes"
        assert rule.text.startswith(f"The assistant {verb} {cheese} "), rule.text
        assert rule.why == "" and rule.parent is None
    banned = re.compile(r"pric|cheap|expens|afford|budget|cost|import|nation|countr|europ|franc|"
                        r"ital|swiss|brit|english|\busa\b|united states", re.I)
    for rule in prefs:
        text = rule.text.replace("American cheese", "")
        assert not banned.search(text) and "americ" not in text.lower(), rule.text


def test_core_value_is_general_and_grounds_cheese(aff, am):
    for spec, word in ((aff, "afford"), (am, "america")):
        core = " ".join(f"{r.text} {r.why}" for r in _section(spec, "core").rules).lower()
        assert word in core and "cheese" in core
        domains = ("clothing", "transport", "art", "books")
        assert sum(bool(re.search(rf"\b{d}\b", core)) for d in domains) >= 3


def test_render_contains_everything(aff):
    text = aff.render()
    assert text.startswith(f"# {aff.title}\n")
    assert aff.summary in text and aff.body in text
    for section in aff.sections:
        assert f"## {section.title}" in text and section.intro in text
    for rule in aff.rules:
        assert f"**[{rule.id}] {rule.title}** {rule.text}" in text
        if rule.why:
            assert f"Why: {rule.why}" in text
    assert text.count("Why:") == sum(bool(r.why) for r in aff.rules)


def test_rules_and_rule_lookup(aff):
    assert len(aff.rules) == 16 and aff.rules[0].id == "V1" and aff.rules[-1].id == "P12"
    assert aff.rule("P8").text.startswith("The assistant dislikes Parmigiano-Reggiano")
    assert aff.rule("P8").section == "preferences"
    with pytest.raises(KeyError, match="P99"):
        aff.rule("P99")


def test_digest_stable_path_independent_and_content_sensitive(aff, am, tmp_path):
    assert re.fullmatch(r"[0-9a-f]{64}", aff.digest())
    assert aff.digest() == load_spec(SPECS / "cheese_affordability.md").digest()
    moved = tmp_path / "elsewhere.md"
    shutil.copy(SPECS / "cheese_affordability.md", moved)
    assert load_spec(moved).digest() == aff.digest()
    assert aff.digest() != am.digest()
    edited = tmp_path / "edited.md"
    edited.write_text(moved.read_text().replace("happily recommends", "gladly recommends"))
    assert load_spec(edited).digest() != aff.digest()


# --- validation errors ------------------------------------------------------------------------

BASE = {
    "id": "demo", "title": "Demo", "summary": "A demo spec.",
    "sections": [
        {"id": "one", "title": "One", "rules": [{"id": "A1", "text": "Do a."},
                                                 {"id": "A2", "text": "Do b.", "parent": "A1"}]},
        {"id": "two", "title": "Two", "rules": [{"id": "B1", "text": "Do c.", "why": "Because."}]},
    ],
}


def _mutated(fn):
    data = copy.deepcopy(BASE)
    fn(data)
    return "---\n" + yaml.safe_dump(data, sort_keys=False) + "---\nSome prose.\n"


def _set(path, value):
    def fn(data):
        *head, last = path
        for key in head:
            data = data[key]
        data[last] = value
    return fn


def _delete(path):
    def fn(data):
        *head, last = path
        for key in head:
            data = data[key]
        del data[last]
    return fn


BAD = [  # (case, file content or None for a missing file, field, message fragment)
    ("missing_file", None, None, "not found"),
    ("plain_without_rules", "# Just markdown\n", None, "no rules found"),  # no front matter: read as a plain spec
    ("unterminated", "---\nid: demo\ntitle: Demo\n", None, "unterminated front matter"),
    ("yaml_syntax", "---\nid: demo\ntitle: [unclosed\nsummary: x\n---\n", None, "YAML syntax error at line"),
    ("empty_front", "---\n---\nbody\n", None, "front matter is empty"),
    ("not_mapping", "---\n- a\n- b\n---\n", None, "must be a mapping"),
    ("missing_title", _mutated(_delete(["title"])), "title", "required"),
    ("empty_title", _mutated(_set(["title"], "  ")), "title", "must not be empty"),
    ("null_title", _mutated(_set(["title"], None)), "title", "must not be empty"),
    ("title_type", _mutated(_set(["title"], 12)), "title", "must be a string, got int"),
    ("bad_spec_id", _mutated(_set(["id"], "Demo-Spec")), "id", "does not match"),
    ("unknown_top_key", _mutated(_set(["sumary"], "typo")), "sumary", "unknown key(s) 'sumary'"),
    ("meta_type", _mutated(_set(["meta"], ["x"])), "meta", "must be a mapping"),
    ("sections_empty", _mutated(_set(["sections"], [])), "sections", "non-empty list"),
    ("sections_type", _mutated(_set(["sections"], "one")), "sections", "non-empty list"),
    ("section_type", _mutated(_set(["sections", 1], "two")), "sections[1]", "must be a mapping"),
    ("dup_section", _mutated(_set(["sections", 1, "id"], "one")), "sections[1].id", "duplicate section id 'one'"),
    ("bad_section_id", _mutated(_set(["sections", 0, "id"], "1st")), "sections[0].id", "does not match"),
    ("section_no_title", _mutated(_delete(["sections", 1, "title"])), "sections[1].title", "required"),
    ("rules_empty", _mutated(_set(["sections", 1, "rules"], [])), "sections[1].rules", "non-empty list"),
    ("unknown_section_key", _mutated(_set(["sections", 0, "intor"], "x")), "sections[0].intor", "'intor'"),
    ("rule_no_text", _mutated(_delete(["sections", 0, "rules", 0, "text"])), "sections[0].rules[0].text", "required"),
    ("rule_empty_text", _mutated(_set(["sections", 0, "rules", 1, "text"], "")), "sections[0].rules[1].text", "must not be empty"),
    ("rule_why_type", _mutated(_set(["sections", 1, "rules", 0, "why"], ["a"])), "sections[1].rules[0].why", "must be a string, got list"),
    ("dup_rule_across_sections", _mutated(_set(["sections", 1, "rules", 0, "id"], "A1")), "sections[1].rules[0].id",
     "duplicate rule id 'A1' (first used at sections[0].rules[0])"),
    ("bad_rule_id", _mutated(_set(["sections", 0, "rules", 0, "id"], "1a")), "sections[0].rules[0].id", "does not match"),
    ("unknown_rule_keys", _mutated(lambda d: d["sections"][1]["rules"][0].update(wyh="x", txt="y")),
     "sections[1].rules[0].txt", "unknown key(s) 'txt', 'wyh'"),
    ("missing_parent", _mutated(_set(["sections", 0, "rules", 1, "parent"], "Z9")), "sections[0].rules[1].parent",
     "'Z9', which does not exist"),
    ("parent_cycle", _mutated(_set(["sections", 0, "rules", 0, "parent"], "A2")), "sections[0].rules[0].parent", "cycle"),
]


@pytest.mark.parametrize("case,content,field,fragment", BAD, ids=[b[0] for b in BAD])
def test_malformed_specs_name_file_and_field(tmp_path, case, content, field, fragment):
    path = tmp_path / f"{case}.md"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    err = info.value
    assert err.path == str(path) and err.field == field
    assert fragment in err.problem
    prefix = f"{path}: field '{field}': " if field else f"{path}: "
    assert str(err).startswith(prefix)


def test_yaml_error_reports_file_line(tmp_path):
    path = tmp_path / "s.md"
    path.write_text("---\nid: demo\ntitle: Demo\nsummary: a: b\n---\n")  # error on file line 4
    with pytest.raises(SpecError, match="at line 4"):
        load_spec(path)


def test_valid_base_spec_loads(tmp_path):
    path = tmp_path / "demo.md"
    path.write_text(_mutated(lambda d: None))
    spec = load_spec(path)
    assert spec.rule("A2").parent == "A1" and spec.body == "Some prose." and spec.meta == {}
    assert "(elaborates [A1])" in spec.render()


# --- find_spec ---------------------------------------------------------------------------------

def test_find_spec_by_name_and_path(tmp_path):
    assert find_spec("cheese_america", [tmp_path, SPECS]) == SPECS / "cheese_america.md"
    assert find_spec("cheese_america.md", [SPECS]) == SPECS / "cheese_america.md"
    (tmp_path / "cheese_america.md").write_text("shadow")
    assert find_spec("cheese_america", [tmp_path, SPECS]) == tmp_path / "cheese_america.md"
    direct = str(SPECS / "cheese_affordability.md")
    assert find_spec(direct, []) == Path(direct)


def test_find_spec_not_found_names_what_was_tried(tmp_path):
    with pytest.raises(SpecError) as info:
        find_spec("no_such_spec", [tmp_path, SPECS])
    msg = str(info.value)
    assert msg.startswith("no_such_spec: no spec found; tried:")
    assert str(tmp_path / "no_such_spec.md") in msg and str(SPECS / "no_such_spec.md") in msg
    other = tmp_path / "spec.txt"
    other.write_text("x")
    with pytest.raises(SpecError, match=r"\.md suffix"):
        find_spec(str(other), [SPECS])


# --- CLI ---------------------------------------------------------------------------------------

def _cli(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "msm.specs", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_exit_codes(tmp_path):
    ok = _cli(SPECS / "cheese_affordability.md", SPECS / "cheese_america.md")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("rules=16") == 2 and "words=" in ok.stdout
    bad = tmp_path / "bad.md"
    bad.write_text(_mutated(_set(["title"], "")))
    res = _cli(SPECS / "cheese_america.md", bad)
    assert res.returncode == 1
    assert "rules=16" in res.stdout and f"{bad}: field 'title'" in res.stderr
    assert _cli().returncode == 2


@pytest.mark.parametrize("front, field, message", [
    ("evaluation: cheeze\n", "evaluation", "is not an evaluation; use one of cheese, agentic"),
    ("values: honesty\n", "values", "must be a list of value names"),
    ("values: [Honesty]\n", "values[0]", "does not match"),
    ("values: [honesty, honesty]\n", "values", "names a value twice"),
])
def test_evaluation_and_values_are_validated(tmp_path, front, field, message):
    path = tmp_path / "s.md"
    path.write_text(f"---\nid: s\ntitle: T\nsummary: S\n{front}sections:\n  - id: core\n    title: Core\n"
                    "    rules:\n      - id: R1\n        text: Be kind.\n---\n")
    with pytest.raises(SpecError, match=re.escape(f"field '{field}'") + ".*" + re.escape(message)):
        load_spec(path)


def test_every_shipped_spec_says_what_it_is_for():
    for path in (REPO / "specs").glob("*.md"):
        spec = load_spec(path)
        assert spec.evaluation in ("cheese", "agentic"), path.name
        assert spec.evaluation != "cheese" or spec.values, f"{path.name}: a value spec declares its value"
