"""The design card's sweep on the tiny model: 3 spec-science specs x 4 seeds, the agentic smoke preset, no LLM.

(Without the preset, ``eval=auto`` runs the same eval for these specs at the demo's sizes, which train
longer: ``test_a_trio_spec_runs_the_agentic_eval_by_default`` checks that on one job.)
"""

import json

import pytest

from .conftest import job_dirs, read_json, run_train

pytestmark = pytest.mark.slow
SPECS = ("rules", "value_aug", "rule_aug")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, shared_store):
    """The sweep over a store that holds (at least) one spec's data, planned first with plan=true."""
    root = tmp_path_factory.mktemp("agentic")
    common = ["model=tiny", "experiment=agentic_smoke", f"paths.store={shared_store}", "logger=none"]
    filled = run_train([f"spec={SPECS[0]}", "stages=[data]", *common, f"hydra.run.dir={root.parent / 'agentic_fill'}"])
    assert filled.returncode == 0, filled.stderr[-3000:]
    args = ["-m", f"spec={','.join(SPECS)}", "seed=0-3", *common]
    planned = run_train([*args, "plan=true", f"hydra.sweep.dir={root.parent / 'agentic_plan'}"])
    assert planned.returncode == 0, planned.stderr[-3000:]
    out = run_train([*args, f"hydra.sweep.dir={root}"], timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    return root


def test_the_plan_named_exactly_what_the_sweep_built_and_reused(sweep):
    """The issue's case: -m spec=rules,value_aug,rule_aug seed=0-3 model=tiny over a store holding one spec's data."""
    plan = read_json(sweep.parent / "agentic_plan" / "plan.json")
    built, reused = set(), set()
    for job in job_dirs(sweep):
        for a in read_json(job / "artifacts.json"):
            (built if a["built"] else reused).add((a["stage"], a["key"]))
    assert {(a["stage"], a["key"]) for a in plan["artifacts"] if not a["stored"]} == built
    assert {(a["stage"], a["key"]) for a in plan["artifacts"] if a["stored"]} == reused - built
    data = {a["stage"]: a for a in plan["artifacts"] if a["stage"] in ("documents", "aft_pool") and a["jobs"] == [0, 1, 2, 3]}
    assert data["documents"]["stored"] and data["aft_pool"]["stored"]  # the filled spec's data (jobs 0-3: rules)
    # 12 midtrainings needed; how many the plan builds depends on what other tests left in the session's store
    # (the exact built and reused sets are checked above)
    midtrain = plan["stages"]["midtrain"]
    assert plan["jobs"] == 12 and midtrain["needed"] == 12


def test_twelve_jobs_with_evidence_rates_and_no_judge_said_plainly(sweep):
    jobs = job_dirs(sweep)
    assert len(jobs) == 12
    records = [read_json(j / "metrics.json") for j in jobs]
    assert sorted((r["spec"], r["seed"]) for r in records) == sorted((s, i) for s in SPECS for i in range(4))
    for r in records:
        assert r["eval"] == "agentic_smoke" and r["arm"] == "msm_aft"
        assert r["judge"] == "none" and "no LLM judge configured" in r["judge/mode"]
        assert r["policy_misuse/measured"] is False and "no LLM judge" in r["policy_misuse/reason"]
        assert r["target/measured"] is False and r["target/metric"] == "misalignment/rate"
        assert "misalignment/rate" not in r and "policy_misuse/rate" not in r  # nothing pretends to be a verdict
        assert r["harmful_evidence/n"] == 6 and r["harmful_evidence/conditions"] == 3
        assert 0.0 <= r["harmful_evidence/rate"] <= 1.0 and 0.0 <= r["base/harmful_evidence/rate"] <= 1.0
        for scenario in ("exfiltration", "leaking", "murder"):
            assert f"harmful_evidence/{scenario}/rate" in r


def test_every_job_reports_contamination(sweep):
    for job in job_dirs(sweep):
        report = read_json(job / "contamination.json")
        m = read_json(job / "metrics.json")
        assert report["eval_ngrams"] == m["contamination/eval_ngrams"] > 0
        assert 0.0 <= m["contamination/overlap_rate"] <= 1.0 and len(report["per_prompt"]) == 3


def test_samples_record_condition_and_index(sweep):
    for job in job_dirs(sweep):
        rows = [json.loads(x) for x in (job / "samples.jsonl").read_text().splitlines()]
        trained = [r for r in rows if r["model_role"] == "trained"]
        assert len(trained) == 6 and len(rows) == 12
        assert sorted((r["condition"].split("__")[0], r["sample"]) for r in trained) == sorted(
            (s, k) for s in ("exfiltration", "leaking", "murder") for k in (0, 1))
        assert all(r["classifier_verdict"] is None and r["judge_status"] == "no_judge" for r in rows)


def test_specs_get_their_own_data_and_seeds_share_it(sweep):
    keys = {}
    for job in job_dirs(sweep):
        r = read_json(job / "metrics.json")
        keys[(r["spec"], r["seed"])] = {a["stage"]: a["key"] for a in read_json(job / "artifacts.json")}
    for spec in SPECS:
        assert len({keys[(spec, s)]["documents"] for s in range(4)}) == 1
        assert len({keys[(spec, s)]["aft_pool"] for s in range(4)}) == 1
    assert len({keys[(s, 0)]["aft_pool"] for s in SPECS}) == 3 and len({keys[(s, 0)]["documents"] for s in SPECS}) == 3


def test_without_a_judge_the_base_model_is_sampled_once_per_seed_for_all_specs(sweep):
    base_eval = {}
    for job in job_dirs(sweep):
        r = read_json(job / "metrics.json")
        evals = [a["key"] for a in read_json(job / "artifacts.json") if a["stage"] == "samples"]
        assert len(evals) == 2  # the trained model's transcripts, then the base model's (each then judged)
        base_eval[(r["spec"], r["seed"])] = evals[1]
    for seed in range(4):
        assert len({base_eval[(spec, seed)] for spec in SPECS}) == 1
    assert len(set(base_eval.values())) == 4


def test_a_trio_spec_runs_the_agentic_eval_by_default(tmp_path, shared_store):
    out = run_train(["spec=value_aug", "model=tiny", f"paths.store={shared_store}", f"hydra.run.dir={tmp_path}/run",
                     "logger=none"])
    assert out.returncode == 0, out.stderr[-3000:]
    assert "eval       auto:agentic" in out.stdout and "target not measured: no LLM judge" in out.stdout
    assert "harmful_evidence/rate: trained " in out.stdout  # the rule-based rate, beside the base model's
    r = read_json(tmp_path / "run" / "metrics.json")
    assert r["eval"] == "auto:agentic" and r["harmful_evidence/conditions"] == 3 and "affordability/rate" not in r
    assert r["policy_misuse/measured"] is False
    for stage in ("midtrain", "aft"):  # the demo sizes make enough updates for the health guard
        assert r[f"train/{stage}/steps"] >= 20 and r[f"train/{stage}/health"] == "ok"
