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
