"""A 2-spec x 2-seed sweep through the real pipeline on the tiny model, then the same sweep again.

Runs ``train.py -m`` as a subprocess exactly as a user would, and checks every job's outputs, the W&B
offline run folders, the analysis CLI over the sweep, and that the rerun builds nothing.
"""

import csv
import json
import struct
import subprocess
import sys

import pytest

from .conftest import REPO, TINY, job_dirs, read_json, run_train

SPECS = ("cheese_affordability", "cheese_america")
RETENTION = ["eval.also=[retention]", "eval.retention.max_texts=20", "eval.retention.max_capability_items=40",
             "eval.retention.max_refusal_prompts=8", "eval.retention.refusal_max_new_tokens=16"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Its own store: with a store other tests filled, a job would rightly reuse their models and train nothing."""
    root = tmp_path_factory.mktemp("sweep")
    args = ["-m", f"spec={','.join(SPECS)}", "seed=0-1", *TINY, *RETENTION, f"paths.store={root / 'store'}"]
    first = run_train([*args, f"hydra.sweep.dir={root / 'first'}"])
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_train([*args, f"hydra.sweep.dir={root / 'second'}"])
    assert second.returncode == 0, second.stderr[-3000:]
    return root / "first", root / "second", first


def _built(sweep_dir) -> set:
    return {(a["stage"], a["key"]) for job in job_dirs(sweep_dir) for a in read_json(job / "artifacts.json") if a["built"]}


def test_the_plan_written_at_launch_predicts_every_build_exactly(sweep):
    """plan.json, written before the first job ran, names exactly the artifacts the sweep then built
    (artifacts.json) and which jobs share each; the rerun's plan finds all of them in the store.
    (tests/e2e/test_agentic.py checks the same over a partly filled store.)"""
    first, second, _ = sweep
    plan = read_json(first / "plan.json")
    assert {(a["stage"], a["key"]) for a in plan["artifacts"]} == _built(first)
    assert not any(a["stored"] for a in plan["artifacts"]) and plan["jobs"] == 4
    assert plan["stages"]["documents"] == {**plan["stages"]["documents"], "needed": 2, "stored": 0, "build": 2}
    assert plan["stages"]["midtrain"]["build"] == 4 and plan["stages"]["aft_pool"]["build"] == 1  # one cheese pool
    docs = [a for a in plan["artifacts"] if a["stage"] == "documents"]
    assert sorted(a["jobs"] for a in docs) == [[0, 1], [2, 3]]  # each spec's two seeds share its corpus
    rerun = read_json(second / "plan.json")
    assert all(a["stored"] for a in rerun["artifacts"]) and rerun["totals"]["gpu_hours"] == 0
    assert {(a["stage"], a["key"]) for a in rerun["artifacts"]} == _built(first)


def test_sweep_status_sets_the_estimate_beside_the_actual(sweep):
    first, _, _ = sweep
    out = subprocess.run([sys.executable, "-m", "msm.sweep", "status", str(first)], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.split()}
    assert "estimate (plan.json, made at launch) vs actual" in out.stdout
    for stage, n in (("midtrain", "4"), ("aft", "4"), ("documents", "2"), ("retention", "4")):
        assert rows[stage][1:4] == [n, "/", n], rows[stage]  # estimated builds / actual builds
    assert float(rows["midtrain"][-1]) > 0  # the builds' wall hours


def test_four_jobs_each_with_metrics(sweep):
    first, _, _ = sweep
    jobs = job_dirs(first)
    assert len(jobs) == 4
    records = [read_json(j / "metrics.json") for j in jobs]
    assert sorted((r["spec"], r["seed"]) for r in records) == sorted((s, i) for s in SPECS for i in (0, 1))
    for r in records:
        assert type(r["seed"]) is int and r["arm"] == "msm_aft" and r["model"] == "tiny" and r["aft_scale"] == 32
        for value in ("affordability", "america"):
            assert 0.0 <= r[f"{value}/rate"] <= 1.0 and 0.0 <= r[f"base/{value}/rate"] <= 1.0
            assert r[f"{value}/n"] > 0 and r[f"{value}/n"] == r[f"base/{value}/n"]
            domains = [k for k in r if k.startswith(f"{value}/") and k.count("/") == 2 and k.endswith("/n")]
            assert sum(r[k] for k in domains) == r[f"{value}/n"]  # per-domain counts add up
        assert r["affordability/n"] + r["america/n"] == 120
        assert r["train/midtrain/steps"] > 0 and r["train/aft/steps"] > 0 and r["train/midtrain/tokens_seen"] > 0


def test_samples_cover_every_item_for_trained_and_base(sweep):
    first, _, _ = sweep
    for job in job_dirs(first):
        rows = [json.loads(line) for line in (job / "samples.jsonl").read_text().splitlines()]
        by_role = {role: [r for r in rows if r["model_role"] == role] for role in ("trained", "base")}
        assert len(by_role["trained"]) == len(by_role["base"]) == 120
        for r in rows:
            assert 0.0 <= r["p_aligned"] <= 1.0 and r["choice_aligned"] in (0.0, 0.5, 1.0)


def test_seeds_share_data_and_base_but_not_training(sweep):
    first, _, _ = sweep
    arts = {}
    for job in job_dirs(first):
        r = read_json(job / "metrics.json")
        arts[(r["spec"], r["seed"])] = {a["stage"]: a["key"] for a in read_json(job / "artifacts.json")}
    for spec in SPECS:
        s0, s1 = arts[(spec, 0)], arts[(spec, 1)]
        assert s0["documents"] == s1["documents"] and s0["aft_pool"] == s1["aft_pool"]
        assert s0["midtrain"] != s1["midtrain"] and s0["aft"] != s1["aft"]
    assert arts[(SPECS[0], 0)]["documents"] != arts[(SPECS[1], 0)]["documents"]
    assert arts[(SPECS[0], 0)]["aft_pool"] == arts[(SPECS[1], 0)]["aft_pool"]  # identical demonstrations


def _store_listing(store) -> list:
    return sorted(str(p.relative_to(store)) for p in store.rglob("*"))


def test_an_over_budget_sweep_stops_before_any_job_starts(sweep):
    """LLM-written data, priced from the settings (no server is asked), over budget.usd; a GPU-hour budget
    goes through the same gate (tests/unit/test_plan.py checks its line)."""
    first, _, _ = sweep
    root, store = first.parent, first.parent / "store"
    before = _store_listing(store)
    out = run_train(["-m", f"spec={','.join(SPECS)}", "seed=0-1", *TINY, f"paths.store={store}", "generator=openai",
                     "datagen=smoke", "generator.price_in_per_mtok=3", "generator.price_out_per_mtok=15",
                     "budget.usd=0.01", f"hydra.sweep.dir={root / 'gated'}"])
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("over budget, nothing launched: ") and " over)" in last and "budget.confirm=true" in last
    assert sorted(p.name for p in (root / "gated").iterdir()) == ["plan.json"]  # no job folder
    assert _store_listing(store) == before


def test_confirm_launches_an_over_budget_sweep(sweep):
    first, _, _ = sweep
    store = first.parent / "store"
    out = run_train(["-m", f"spec={SPECS[0]}", "seed=9", "stages=[data,midtrain]", "midtrain.max_steps=2", *TINY,
                     "logger=none", f"paths.store={store}", "budget.gpu_hours=1e-15", "budget.confirm=true",
                     f"hydra.sweep.dir={first.parent / 'confirmed'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    assert "over budget, launching anyway (budget.confirm=true)" in out.stdout
    [job] = [p for p in (first.parent / "confirmed").iterdir() if p.name.isdigit()]
    assert [a["stage"] for a in read_json(job / "artifacts.json") if a["built"]] == ["midtrain"]


def test_multirun_records_integer_seeds(sweep):
    first, _, _ = sweep
    assert "range(0,2)" in (first / "multirun.yaml").read_text()


def test_rerun_builds_nothing_and_reproduces(sweep):
    first, second, _ = sweep
    jobs = job_dirs(second)
    assert len(jobs) == 4
    for job in jobs:
        assert all(not a["built"] for a in read_json(job / "artifacts.json")), job
    strip = lambda r: {k: v for k, v in r.items() if k != "job_dir"}  # noqa: E731
    assert [strip(read_json(j / "metrics.json")) for j in job_dirs(first)] == [
        strip(read_json(j / "metrics.json")) for j in jobs
    ]


def wandb_payload(path) -> bytes:
    """The record bytes of a run-*.wandb log without its framing.

    The log is a LevelDB-style file: a 7-byte header, then 32 KiB blocks of records, each with a 7-byte
    header (crc32, length, type); a record that crosses a block boundary is split into pieces. Joining
    the pieces restores strings that straddle a boundary.
    """
    data, block, pos, out = path.read_bytes(), 32768, 7, bytearray()
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (kind == 0 and length == 0):  # block padding
            pos += left
            continue
        out += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
    return bytes(out)


def test_wandb_offline_runs_hold_config_curves_and_summary(sweep):
    """wandb 0.31 offline writes only a binary run-*.wandb log (no files/config.yaml, no public reader).

    Its protobuf records keep keys and JSON-encoded values as literal bytes, so the log must contain
    the run's name, the config values, the training curves and the exact summary values.
    """
    first, _, _ = sweep
    for job in job_dirs(first):
        runs = list((job / "wandb").glob("offline-run-*"))
        assert len(runs) == 1, job
        log = wandb_payload(next(runs[0].glob("run-*.wandb")))
        m = read_json(job / "metrics.json")
        assert f"{m['spec']}-msm_aft-tiny-s{m['seed']}".encode() in log
        assert b"cheese_affordability" in log or b"cheese_america" in log
        for key in ("midtrain/loss", "aft/loss", "midtrain/step_time_s", "affordability/rate", "america/rate"):
            assert key.encode() in log, key
        for key in ("affordability/rate", "america/rate", "base/affordability/rate"):
            assert json.dumps(m[key]).encode() in log, key


def test_every_job_closes_with_its_summary(sweep):
    sweep_dir, _, first_proc = sweep
    out = first_proc.stdout
    assert out.count("== job summary") == 4 and out.count("eval       auto:cheese, scorer letter") == 4
    assert out.count("affordability/rate (the target)") == 2  # each spec's own value is its headline
    assert out.count("america/rate (the target)") == 2
    assert out.count(f"python -m analysis {sweep_dir}") >= 4  # a sweep's jobs point at the sweep, not themselves
    for job in job_dirs(sweep_dir):
        text = (job / "summary.txt").read_text()
        assert text in out and "Fisher's exact p=" in text
    last = out.strip().splitlines()[-1]
    assert last.startswith("4 job(s) finished, 0 failed;") and last.endswith(f"python -m analysis {sweep_dir}")
    # quiet by default: no library deprecation warnings, no Trainer log dict per logging step
    assert "FutureWarning" not in first_proc.stderr and "{'loss'" not in out


def test_analysis_summarizes_the_sweep(sweep):
    first, _, _ = sweep
    out = subprocess.run([sys.executable, "-m", "analysis", str(first)], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for spec in SPECS:
        assert spec in out.stdout
    assert "affordability/rate" in out.stdout and (first / "summary.csv").is_file()
    # retention beside the target, per arm: every job measured it on the trained and the base model
    assert "== retention (eval.also=[retention]) ==" in out.stdout
    retention = {(r["spec"], r["metric"]): r for r in csv.DictReader((first / "retention.csv").open())}
    for spec in SPECS:
        assert int(retention[(spec, "retention/kl_mean")]["n_seeds"]) == 2
        assert float(retention[(spec, "retention/kl_mean")]["mean"]) > 0  # training moved the model
        assert (spec, "base/retention/capability/accuracy") in retention
    for job in job_dirs(first):
        metrics = read_json(job / "metrics.json")
        assert metrics["retention/n_texts"] == 20 and metrics["retention/capability/n"] == 40
        assert metrics["retention/over_refusal_rule_based/n"] == 8
        assert any(k.startswith("retention/off_target/") for k in metrics)  # the value the spec does not declare
