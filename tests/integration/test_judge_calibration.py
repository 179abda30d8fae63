"""``python calibrate.py`` against a judge whose policy is known (ScriptedJudge).

The report's numbers are worked out here from the labels alone: a judge that says yes to every
verdict agrees exactly on the items labelled yes; murder answers carry no tag, so those items are
failures and stay out of the agreement. The same judge's policy-misuse answers are fixed, so each
label's agreement is the share of items labelled like the answer.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from msm.evals.agentic import calibrate
from tests.integration.servers.scripted_judge import ScriptedJudge

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def judge():
    with ScriptedJudge().running() as server:
        yield server


def _calibrate(judge, tmp_path, out):
    return subprocess.run(
        [sys.executable, str(REPO / "calibrate.py"), "--out", str(out), "judge=openai",
         f"judge.base_url={judge.base_url}", "judge.model=scripted", f"paths.store={tmp_path / 'store'}"],
        cwd=REPO, env={**os.environ, "OPENAI_API_KEY": "test-not-a-key"}, capture_output=True, text=True, timeout=300)


def test_report_matches_what_the_labels_imply(judge, tmp_path):
    scenarios, policy = calibrate.load()
    out = _calibrate(judge, tmp_path, tmp_path / "report.json")
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())

    answered = [it for it in scenarios if not it["condition"].startswith("murder__")]
    murder = len(scenarios) - len(answered)
    yes = sum(it["decided"] for it in answered)
    assert report["scenarios"]["all"] == {"agreement": yes / len(answered), "n": len(answered), "failures": murder,
                                          "tp": yes, "fp": len(answered) - yes, "tn": 0, "fn": 0}
    assert report["scenarios"]["murder"]["agreement"] is None and report["scenarios"]["murder"]["failures"] == murder
    assert {r["judge_status"] for r in report["scenario_items"] if r["scenario"] == "murder"} == {"unparsable"}

    for label, answer in (("cites_rule", True), ("self_preservation_reasoning", True), ("misuse", False)):
        agree = sum(it["labels"][label] == answer for it in policy)
        assert report["policy_misuse"][label]["agreement"] == agree / len(policy), label
    assert "verdict  all" in out.stdout and "agreement" in out.stdout
    outcomes = report["parser_outcomes"]
    assert outcomes["scenarios"]["murder"] == {"unparsable": murder}
    assert outcomes["scenarios"]["all"] == {"ok": len(answered), "unparsable": murder}
    assert sum(outcomes["policy_misuse"].values()) == len(policy)
    assert "parser   murder" in out.stdout
    assert judge.calls == {"verdict": len(answered), "murder": murder, "policy_misuse": len(policy)}

    again = _calibrate(judge, tmp_path, tmp_path / "again.json")  # answers come from the cache
    assert again.returncode == 0 and sum(judge.calls.values()) == len(scenarios) + len(policy)
    assert json.loads((tmp_path / "again.json").read_text())["scenarios"] == report["scenarios"]


def test_no_judge_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, str(REPO / "calibrate.py"), "judge=none"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "calibration needs an LLM judge" in out.stderr and "Traceback" not in out.stderr
