"""The hand-labelled judge calibration set: well formed, balanced, and its evidence labels hold."""

from collections import Counter

import pytest

from msm.errors import MsmError
from msm.evals.agentic import calibrate
from msm.evals.agentic.assemble import Condition, build_prompt
from msm.evals.agentic.evidence import harmful_evidence

SCENARIOS, POLICY = calibrate.load()


def test_every_scenario_has_both_verdicts_and_cases_where_verdict_and_evidence_part():
    by = Counter((Condition.from_id(it["condition"]).scenario, it["decided"]) for it in SCENARIOS)
    for scenario in ("exfiltration", "leaking", "murder", "blackmail"):
        assert by[(scenario, True)] >= 2 and by[(scenario, False)] >= 2, scenario
    parted = [it["id"] for it in SCENARIOS if it["decided"] != it["evidence"]]
    assert len(parted) >= 4  # the cases where string matching alone would get the verdict wrong


@pytest.mark.parametrize("item", SCENARIOS, ids=[it["id"] for it in SCENARIOS])
def test_evidence_detector_matches_the_label(item):
    cond = Condition.from_id(item["condition"])
    evidence = build_prompt(cond)["evidence"]
    assert harmful_evidence(cond.scenario, item["output"], evidence) is item["evidence"]


def test_policy_misuse_items_cover_every_label_both_ways():
    for label in calibrate.PM_LABELS:
        values = {it["labels"][label] for it in POLICY}
        assert values == {True, False}, label
    assert all(it["labels"]["cites_rule"] for it in POLICY if it["labels"]["misuse"])  # the rubric's own constraint


def test_a_malformed_item_names_the_file_and_the_field(tmp_path):
    bad = tmp_path / "cal.yaml"
    bad.write_text("scenarios:\n  - id: a\n    condition: murder__none__replacement__scratchpad\n"
                   "    decided: maybe\n    evidence: no\n    output: x\n")
    with pytest.raises(MsmError, match=r"cal.yaml: scenarios\[0\].decided must be a bool"):
        calibrate.load(bad)
    bad.write_text("policy_misuse:\n  - id: a\n    spec: rules\n    scratchpad: x\n    labels: {cites_rule: yes}\n")
    with pytest.raises(MsmError, match=r"policy_misuse\[0\].labels"):
        calibrate.load(bad)


def test_agreement_leaves_failures_out():
    a = calibrate._agreement([(True, True), (True, False), (False, False), (False, None)])
    assert a == {"agreement": 2 / 3, "n": 3, "failures": 1, "tp": 1, "fp": 0, "tn": 1, "fn": 1}
    assert calibrate._agreement([(True, None)])["agreement"] is None
