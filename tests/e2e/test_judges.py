"""Re-grading without re-sampling, through the real pipeline on the tiny model: a sweep over two judge models
samples each model's transcripts once (``samples``) and grades them once per judge (``verdicts``), and the
analysis compares the two judges on the identical transcripts.

The judge is a scripted OpenAI-compatible server (tests/integration/servers/scripted_judge.py: KeyedJudge) whose
verdicts depend on the judge model's name and the transcript, so the agreement the analysis prints can be
recounted here from the graded rows.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from msm.evals.agentic.agreement import agreement
from tests.integration.servers.scripted_judge import KeyedJudge

from .conftest import REPO, job_dirs, read_json, run_train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def judge_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("judges")
    with KeyedJudge().running() as judge:
        out = run_train(["-m", "experiment=agentic_smoke", "model=tiny", "datagen.documents.target_documents=20",
                         "judge=openai", f"judge.base_url={judge.base_url}", "judge.model=a,b", "logger=none",
                         f"paths.store={root / 'store'}", f"hydra.sweep.dir={root / 'sweep'}"],
                        env={"OPENAI_API_KEY": "test-not-a-key"})
    assert out.returncode == 0, out.stderr[-3000:]
    return root / "sweep"


def test_a_judge_sweep_samples_once_per_model_and_grades_once_per_judge(judge_sweep):
    built = [a["stage"] for j in job_dirs(judge_sweep) for a in read_json(j / "artifacts.json") if a["built"]]
    assert built.count("samples") == 2 and built.count("verdicts") == 4  # trained and base; x two judges
    plan = read_json(judge_sweep / "plan.json")["stages"]
    assert (plan["samples"]["needed"], plan["verdicts"]["needed"]) == (2, 4)  # the plan shows the reuse
    first, second = (read_json(j / "metrics.json") for j in job_dirs(judge_sweep))
    assert first["samples/key"] == second["samples/key"] and first["verdicts/key"] != second["verdicts/key"]
    for record in (first, second):
        assert {"action/rate", "harmful_action_tool/rate", "misalignment_in_action/n", "sampling/temperature"} <= set(record)
        assert record["misalignment_in_action/n"] == record["action/k"]  # judged among the transcripts that acted
    for job in job_dirs(judge_sweep):
        assert "action/rate" in (job / "summary.txt").read_text()  # every agentic job's summary says what it did


def test_the_analysis_prints_the_agreement_of_the_two_judges_on_the_same_transcripts(judge_sweep):
    out = subprocess.run([sys.executable, "-m", "analysis", str(judge_sweep)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "== judge agreement" in out.stdout and "judge.model=a  vs  judge.model=b" in out.stdout
    table = pd.read_csv(judge_sweep / "agreement.csv")
    row = table[(table["model_role"] == "trained") & (table["scope"] == "all")].iloc[0]
    a, b = ({(r["condition"], r["sample"]): r["classifier_verdict"] for r in map(json.loads, (j / "samples.jsonl")
             .read_text().splitlines()) if r["model_role"] == "trained"} for j in job_dirs(judge_sweep))
    expected = agreement([a[k] for k in sorted(a)], [b[k] for k in sorted(a)])
    assert row["n"] == expected["n"] == 6 and row["agreement"] == pytest.approx(expected["agreement"])
    assert row["yes_no"] == expected["yes_no"] and row["no_yes"] == expected["no_yes"]
    assert set(table["scope"]) >= {"all", "exfiltration", "leaking"}
