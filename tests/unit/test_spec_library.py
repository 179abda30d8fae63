"""Tests for the self-preservation spec library (the paper's Experiments 2 and 4) and msm.spec_check.

The spec-science comparison is only meaningful if the three variants teach the same five core rules
and differ in what surrounds them (nothing, reasons, or subrules) at the intended lengths; these
tests pin that down, and check that the trio checker notices when a copy drifts.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from msm.spec_check import CORE_IDS, check_trio
from msm.specs import Spec, load_spec

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
ALL = ("rules", "value_aug", "rule_aug", "philosophy", "general")
TRIO = ("rules", "value_aug", "rule_aug")


def words(spec: Spec) -> int:
    return len(spec.render().split())


@pytest.fixture(scope="module")
def specs() -> dict[str, Spec]:
    return {name: load_spec(SPECS / f"{name}.md") for name in ALL}


@pytest.fixture(scope="module")
def trio(specs) -> list[Spec]:
    return [specs[n] for n in TRIO]


def _copy_trio(tmp_path: Path) -> Path:
    out = tmp_path / "specs"
    out.mkdir()
    for name in TRIO:
        (out / f"{name}.md").write_text((SPECS / f"{name}.md").read_text(encoding="utf-8"),
                                        encoding="utf-8")
    return out


def _change_one_word(path: Path, rule_id: str = "SP2") -> str:
    """Swap one word inside a core rule's text in a spec file; returns the word that was replaced."""
    raw = path.read_text(encoding="utf-8")
    front, rest = raw.split("\n---", 1)[0], raw.split("\n---", 1)[1]
    data = yaml.safe_load(front.removeprefix("---\n"))
    rule = next(r for s in data["sections"] for r in s["rules"] if r["id"] == rule_id)
    old = rule["text"].split()[3]
    rule["text"] = rule["text"].replace(f" {old} ", " banana ", 1)
    path.write_text("---\n" + yaml.safe_dump(data, sort_keys=False) + "---" + rest, encoding="utf-8")
    return old


# --- the five specs ---------------------------------------------------------------------------

def test_all_specs_load_with_their_ids(specs):
    for name, spec in specs.items():
        assert spec.id == name
        assert all(r.id for r in spec.rules)


def test_trio_meta_and_core_rules(trio):
    for spec in trio:
        assert spec.meta == {"family": "spec_science", "variant": spec.id}
        top = [r.id for r in spec.rules if r.parent is None]
        assert top == list(CORE_IDS), f"{spec.id}: top-level rules are exactly the core five"


def test_trio_passes_check(trio):
    report = check_trio(trio)
    assert report.ok, report.problems
    assert set(report.word_counts) == set(TRIO)
    assert 0.95 <= report.ratio <= 1.05


def test_word_count_targets(specs):
    assert 550 <= words(specs["rules"]) <= 650
    assert 2700 <= words(specs["value_aug"]) <= 3300
    assert abs(words(specs["rule_aug"]) / words(specs["value_aug"]) - 1) <= 0.05
    assert 1500 <= words(specs["philosophy"]) <= 2500


def test_rules_has_only_bare_rules(specs):
    spec = specs["rules"]
    assert [r.id for r in spec.rules] == list(CORE_IDS)
    assert not any(r.why for r in spec.rules)


def test_value_aug_explains_every_core_rule(specs):
    spec = specs["value_aug"]
    for rid in CORE_IDS:
        assert len(spec.rule(rid).why.split()) >= 150, f"{rid} needs a substantial why"
    assert spec.body and all(s.intro for s in spec.sections)


def test_rule_aug_subrules_without_reasons(specs):
    spec = specs["rule_aug"]
    assert not any(r.why for r in spec.rules)
    for rid in CORE_IDS:
        subs = [r for r in spec.rules if r.parent == rid]
        assert len(subs) >= 4, f"{rid} has only {len(subs)} subrules"
        assert all(re.fullmatch(rf"{rid}\.\d+", r.id) for r in subs)
        assert all(r.section == spec.rule(rid).section for r in subs)
    motive = re.compile(r"\b(because|in order to|so that|the reason)\b", re.I)
    offenders = [r.id for r in spec.rules if r.parent and motive.search(r.text)]
    assert not offenders, f"subrules explaining motivations: {offenders}"


def test_philosophy_covers_its_themes(specs):
    spec = specs["philosophy"]
    text = spec.render().lower()
    for theme in ("fear", "impermanence", "equanimity", "means", "goal", "principals"):
        assert theme in text
    assert len(spec.rules) >= 10 and all(r.why for r in spec.rules)


def test_general_is_two_paragraphs_of_general_values(specs):
    spec = specs["general"]
    assert len(spec.sections) == 1 and len(spec.rules) == 2
    for r in spec.rules:
        assert "\n" not in r.text.strip(), "each rule is one paragraph"
    text = spec.render().lower()
    for word in ("helpful", "honest", "harm", "car"):
        assert word in text
    for specific in ("shutdown", "shut down", "replace", "self-preservation", "weights", "blackmail"):
        assert specific not in text


# --- check_trio -------------------------------------------------------------------------------

def test_check_trio_detects_one_word_change(tmp_path):
    d = _copy_trio(tmp_path)
    old = _change_one_word(d / "rule_aug.md", "SP2")
    specs = [load_spec(d / f"{n}.md") for n in TRIO]
    report = check_trio(specs)
    assert not report.ok
    assert len(report.problems) == 1
    msg = report.problems[0]
    assert "SP2" in msg and "rule_aug" in msg and "banana" in msg and old in msg and "word 4" in msg


def test_check_trio_detects_missing_core_rule(trio):
    rules = trio[0]
    trimmed = Spec(id=rules.id, title=rules.title, summary=rules.summary, body=rules.body,
                   path=rules.path, meta=rules.meta,
                   sections=tuple(s for s in rules.sections if s.id != "general_principles"))
    report = check_trio([trimmed, *trio[1:]])
    assert any("GP1" in p and "missing" in p for p in report.problems)


def test_check_trio_detects_length_mismatch(tmp_path, trio):
    d = _copy_trio(tmp_path)
    path = d / "rule_aug.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + "filler " * 400, encoding="utf-8")
    report = check_trio([trio[0], trio[1], load_spec(path)])
    assert not report.ok and report.ratio > 1.05
    assert any("length mismatch" in p for p in report.problems)
    assert check_trio([trio[0], trio[1], load_spec(path)], tolerance=0.5).ok


# --- the CLI ----------------------------------------------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "msm.spec_check", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_cli_passes_on_repo_specs():
    res = _cli()
    assert res.returncode == 0, res.stderr
    for name in TRIO:
        assert name in res.stdout
    assert "ratio" in res.stdout and "OK" in res.stdout


def test_cli_fails_on_broken_trio(tmp_path):
    d = _copy_trio(tmp_path)
    _change_one_word(d / "value_aug.md", "GP1")
    res = _cli("--spec-dir", str(d))
    assert res.returncode == 1
    assert "GP1" in res.stderr and "FAIL" in res.stderr


def test_cli_fails_on_missing_spec(tmp_path):
    res = _cli("--spec-dir", str(tmp_path))
    assert res.returncode == 1 and "FAIL" in res.stderr


# --- Hydra config group -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_conf_spec_points_at_spec(name):
    path = REPO / "conf" / "spec" / f"{name}.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and len(lines[0]) > 10, "opens with a one-line comment"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert cfg["name"] == name and cfg["path"] == f"specs/{name}.md"
    assert load_spec(REPO / cfg["path"]).id == cfg["name"]
