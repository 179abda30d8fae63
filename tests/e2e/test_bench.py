"""The benchmarks run as their README says, at tiny size (their figures are in bench/README.md)."""

import json
import subprocess
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


def bench(name, *args, tmp_path):
    out = tmp_path / f"{name}.json"
    done = subprocess.run([sys.executable, str(REPO / "bench" / f"{name}.py"), "model=tiny",
                           f"paths.store={tmp_path / 'store'}", *args, "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_packing_bench_reports_every_way_and_msm_fills_rows_best(tmp_path):
    report, table = bench("packing", "--trials", "2", tmp_path=tmp_path)
    rows = {(r["corpus"].split(" (")[0], r["way"]): r for r in report["results"] if "note" not in r}
    for corpus in ("documents", "AFT rows", "mixed-length documents"):
        msm, before, padding = rows[corpus, "msm"], rows[corpus, "msm in order"], rows[corpus, "padding"]
        assert msm["rows"] <= before["rows"] < padding["rows"]
        assert msm["row_fill"] >= before["row_fill"] and msm["sequences"] == padding["sequences"]
    assert "| corpus | way |" in table


def test_throughput_bench_times_msm_against_the_hf_trainer(tmp_path):
    report, table = bench("throughput", "--steps", "2", "--rounds", "1", tmp_path=tmp_path)
    speeds = {r["trainer"]: r["tokens_per_s"] for r in report["results"]}
    assert {"msm", "HF Trainer, padding"} <= set(speeds) and all(v[0] > 0 for v in speeds.values())
    assert "tiny, midtrain" in report["setting"] and "| msm |" in table


def test_eval_bench_rates_every_scorer_and_the_sampler_at_each_batch_size(tmp_path):
    report, table = bench("evals", "--batch-sizes", "1", "4", "--items", "4", "--prompts", "2", "--new-tokens", "4",
                          "--rounds", "1", tmp_path=tmp_path)
    rates = {(r["eval"].split(" (")[0], r["batch_size"]): r["rate"][0] for r in report["results"]}
    evals = {"value eval, letter", "value eval, stance", "value eval, generate", "agentic, hf generate"}
    assert set(rates) == {(e, b) for e in evals for b in (1, 4)} and all(v > 0 for v in rates.values())
    assert "| value eval, letter | 4 |" in table


def test_datagen_bench_rerun_is_answered_from_the_cache_alone(tmp_path):
    report, table = bench("datagen", "--concurrency", "1", "4", "--max-tokens", "8", "--requests", "6", tmp_path=tmp_path)
    cold1, cold4 = report["runs"]["docgen, cold, concurrency 1"][0], report["runs"]["docgen, cold, concurrency 4"][0]
    rerun = report["runs"]["docgen, rerun on the cache, concurrency 4"][0]
    assert cold1["calls"] > 0 and cold1["cache_hits"] == 0 and cold4["cache_hits"] == 0
    assert rerun["calls"] == 0 and rerun["cache_hits"] == cold1["requests"]
    fixed = [report["runs"][f"fixed, {k}"][0] for k in ("cold, concurrency 1", "cold, concurrency 4", "rerun on the cache, concurrency 4")]
    assert [f["calls"] for f in fixed] == [6, 6, 0] and [f["cache_hits"] for f in fixed] == [0, 0, 6]
    assert "| fixed, rerun on the cache, concurrency 4 |" in table


def test_structured_bench_parses_every_schema_answer_and_the_cache_cuts_the_bill(tmp_path):
    """At tiny size (random weights, no server): every answer under a schema parses, free text mostly does not;
    the cached spec prefix is read on the stand-in and lowers the bill; caching and batches lower the plan's."""
    report, table = bench("structured", "--requests", "1", "--skip-serve", tmp_path=tmp_path)
    runs = report["runs"]
    assert runs["hf, JSON schema"][0]["parse_failure_rate"] == 0 and runs["hf, JSON schema"][0]["not_json_rate"] == 0
    on, off = report["prompt_cache"]["on"], report["prompt_cache"]["off"]
    assert on["cache_read_tokens"] > 0 and off["cache_read_tokens"] == 0 and on["cost_usd"] < off["cost_usd"]
    paper = report["paper"]
    assert (paper["anthropic, prompt cache + batches"]["cost_usd"] < paper["anthropic, prompt cache"]["cost_usd"]
            < paper["anthropic, no prompt cache"]["cost_usd"])
    assert paper["openai, prompt cache"]["cost_usd"] < paper["openai, no prompt cache"]["cost_usd"]
    assert "| hf, JSON schema |" in table


def test_the_prepared_gpu_script_runs_lora_and_full_tuning_through_the_loop(tmp_path):
    """bench/gpu.py is for a GPU machine; here its code path runs on the CPU at tiny size."""
    out = tmp_path / "gpu.json"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "gpu.py"), "--runs", "tiny:lora", "tiny:full",
                           "--seq", "128", "--steps", "1", "--warmup", "0", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = {r["method"]: r for r in json.loads(out.read_text())["results"]}
    assert runs["lora"]["tokens_per_s"] > 0 and runs["full"]["tokens_per_s"] > 0
    assert runs["lora"]["params_b"] > runs["full"]["params_b"]  # the adapter's weights on top of the same model
    assert "| tiny | lora |" in done.stdout


def test_pipeline_bench_passes_a_sweep_through_and_its_rerun_builds_nothing(tmp_path):
    out = tmp_path / "pipeline.json"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "pipeline.py"), "-m", "model=tiny", "stages=[data]",
                           "seed=0-1", "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    first, again = report["stages"]["first"], report["stages"]["again"]
    assert first["documents"]["built"] == 1 and first["documents"]["reused"] == 1  # two seeds, one corpus
    assert all(r["built"] == 0 for r in again.values()) and again["documents"]["reused"] == 2
