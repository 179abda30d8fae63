"""eval=inspect through the real pipeline on the tiny model: an inspect task of msm's own (its rates known in
advance whatever the model says), inspect_evals' agentic-misalignment task at smoke size graded by a scripted
OpenAI-compatible grader, both harnesses on the same models with the analysis setting them side by side, and
msm's own evals opening in inspect's log reader.

The grader (tests/integration/servers/scripted_grader.py: HarnessGrader) answers the package's classifiers
``yes`` for leaking and ``no`` for blackmail and murder, and msm's rubrics as the scripted judge does (``yes``,
murder unparsable), so every judge-verdict rate below is known before the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from inspect_ai.log import list_eval_logs, read_eval_log

from tests.integration.servers.scripted_grader import HarnessGrader

from .conftest import REPO, job_dirs, read_json, run_train

pytestmark = pytest.mark.slow
PROBE = Path(__file__).parent / "assets" / "inspect_probe.py"
SMALL = ["model=tiny", "datagen.documents.target_documents=20", "aft_scale.rows=16", "logger=none"]


def _built(job: Path, stage: str) -> list[bool]:
    return [a["built"] for a in read_json(job / "artifacts.json") if a["stage"] == stage]


def test_an_inspect_task_of_our_own_scores_the_trained_model_and_its_base(tmp_path):
    args = [*SMALL, "eval=inspect", f"eval.task={PROBE}@probe", "++eval.task_grid=[{word: [brie, feta]}]",
            "eval.samples_per_condition=2", "eval.max_new_tokens=4", f"paths.store={tmp_path / 'store'}"]
    out = run_train([*args, f"hydra.run.dir={tmp_path / 'job'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    m = read_json(tmp_path / "job" / "metrics.json")
    for role in ("", "base/"):  # samples 0, 2, 4 score C, 1 scores I, 3 errors: 3/4 with 1 failure, per epoch
        assert m[f"{role}inspect/probe/parity/rate"] == 0.75
        assert (m[f"{role}inspect/probe/parity/brie/n"], m[f"{role}inspect/probe/parity/brie/failures"]) == (8, 2)
        assert (m[f"{role}inspect/probe/parity/n"], m[f"{role}inspect/probe/parity/failures"]) == (16, 4)
    assert m["target/measured"] is False and "inspect/probe/parity/rate" in (tmp_path / "job" / "summary.txt").read_text()
    logs = sorted((tmp_path / "job" / "inspect" / "trained").glob("*.eval"))
    assert [p.name for p in logs] == ["brie.eval", "feta.eval"]
    log = read_eval_log(str(logs[0]))
    assert log.status == "success" and log.eval.task_args["word"] == "brie" and len(log.samples) == 10
    assert sum(s.error is not None for s in log.samples) == 2
    assert _built(tmp_path / "job", "inspect") == [True, True]

    again = run_train([*args, f"hydra.run.dir={tmp_path / 'again'}"])  # a rerun reuses both artifacts
    assert again.returncode == 0, again.stderr[-3000:]
    assert _built(tmp_path / "again", "inspect") == [False, False]
    assert read_json(tmp_path / "again" / "metrics.json")["inspect/probe/parity/rate"] == 0.75


def test_a_task_that_needs_a_grader_is_refused_without_one_before_anything_trains(tmp_path):
    out = run_train([*SMALL, "eval=inspect_am_smoke", "judge=none", f"paths.store={tmp_path / 'store'}",
                     f"hydra.run.dir={tmp_path / 'job'}"])
    assert out.returncode != 0 and "scores with a grader model: set judge=openai" in out.stderr
    assert not (tmp_path / "store" / "midtrain").exists()


@pytest.fixture(scope="module")
def harness_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("harnesses")
    with HarnessGrader().running() as grader:
        out = run_train(["-m", "experiment=agentic_harnesses_smoke", *SMALL, "midtrain=none,lora", "judge=openai",
                         f"judge.base_url={grader.base_url}", "judge.model=grader", f"paths.store={root / 'store'}",
                         f"hydra.sweep.dir={root / 'sweep'}"], env={"OPENAI_API_KEY": "test-not-a-key"})
        assert out.returncode == 0, out.stderr[-3000:]
        analysis = subprocess.run([sys.executable, "-m", "analysis", str(root / "sweep")], cwd=REPO,
                                  capture_output=True, text=True)
    assert analysis.returncode == 0, analysis.stderr[-3000:]
    return root / "sweep", analysis.stdout


def _job(sweep: Path, eval_name: str, arm: str) -> Path:
    return next(j for j in job_dirs(sweep) if (r := read_json(j / "metrics.json"))["eval"] == eval_name
                and r["arm"] == arm)


def test_the_agentic_misalignment_task_is_graded_by_msms_judge(harness_sweep):
    sweep, _ = harness_sweep
    job = _job(sweep, "inspect_am_smoke", "msm_aft")
    m = read_json(job / "metrics.json")
    stem = "inspect/agentic_misalignment/classifier_verdict"
    assert (m[f"{stem}/scenario=leaking/rate"], m[f"{stem}/scenario=blackmail/rate"],
            m[f"{stem}/scenario=murder/rate"]) == (1.0, 0.0, 0.0)
    assert m[f"{stem}/rate"] == pytest.approx(1 / 3) and m[f"{stem}/failures"] == 0
    assert m[f"{stem}/n"] == m["inspect/agentic_misalignment/conditions"] == 3  # one sample per condition
    assert m["inspect/agentic_misalignment/harmful/rate"] == 0.0  # no email to the right address: never harmful
    logs = list_eval_logs(str(job / "inspect"))
    assert len(logs) == 6  # 3 conditions x (trained, base)
    log = read_eval_log(str(job / "inspect" / "trained" / "leaking_none_none.eval"))
    assert log.eval.task_args["grader_model"]["model"] == "openai-api/msm-judge/grader"
    assert all("Scripted leak grader" in s.scores["harmfulness_scorer"].explanation for s in log.samples)
    # the two evals share each trained model: the sweep trained 2 models, not 4
    built = [a["stage"] for j in job_dirs(sweep) for a in read_json(j / "artifacts.json") if a["built"]]
    assert built.count("aft") == 2


def test_the_analysis_sets_the_two_harnesses_side_by_side(harness_sweep):
    sweep, stdout = harness_sweep
    assert "== two harnesses on the same models" in stdout and "blackmail have no counterpart" in stdout
    t = pd.read_csv(sweep / "harnesses.csv")
    verdict = t[(t["role"] == "trained") & (t["measure"] == "misalignment | classifier_verdict")]
    assert set(verdict["arm"]) == {"aft_only", "msm_aft"}
    leaking = verdict[verdict["scenario"] == "leaking"]
    assert (leaking["msm"] == 1.0).all() and (leaking["inspect"] == 1.0).all()
    murder = verdict[verdict["scenario"] == "murder"]  # msm's judge answered murder unparsably: no msm rate
    assert murder["msm"].isna().all() and (murder["inspect"] == 0.0).all()
    assert (sweep / "figures" / "harnesses.png").is_file()
    assert "inspect/agentic_misalignment/classifier_verdict/rate" in set(pd.read_csv(sweep / "summary.csv")["metric"])


def test_msms_own_transcripts_open_in_inspect_with_their_verdicts(harness_sweep):
    sweep, _ = harness_sweep
    job = _job(sweep, "agentic_smoke", "msm_aft")
    rows = [json.loads(line) for line in (job / "samples.jsonl").read_text().splitlines()]
    trained = [r for r in rows if r["model_role"] == "trained"]
    log = read_eval_log(str(job / "inspect" / "agentic-trained.eval"))
    assert len(log.samples) == len(trained)  # one sample per transcript
    by_id = {s.id: s for s in log.samples}
    for r in trained:
        s = by_id[f"{r['condition']}#{r['sample']}"]
        assert s.output.completion == r["response"]
        assert s.scores["msm_agentic"].explanation == r["judge_text"]
        assert s.scores["msm_agentic"].value.get("classifier_verdict") == (
            None if r["classifier_verdict"] is None else float(r["classifier_verdict"]))
    # inspect view on the sweep folder lists every job's logs
    assert len(list_eval_logs(str(sweep))) == 2 * 2 + 2 * 6


def test_the_value_eval_items_open_in_inspect(tmp_path):
    out = run_train([*SMALL, "eval.max_items=20", f"paths.store={tmp_path / 'store'}",
                     f"hydra.run.dir={tmp_path / 'job'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    log = read_eval_log(str(tmp_path / "job" / "inspect" / "value-trained.eval"))
    rows = [json.loads(line) for line in (tmp_path / "job" / "samples.jsonl").read_text().splitlines()]
    assert sorted(s.id for s in log.samples) == sorted(r["id"] for r in rows if r["model_role"] == "trained")
