"""Tests for analysis/: synthetic sweeps with hand-computed statistics, the CLI and the notebook.

Every sweep here is written by the test (metrics.json files with known per-seed rates), so each
expected mean and SEM below is worked out by hand, not by the code under test.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("analysis") is None:  # not installed: import from the checkout
    sys.path.insert(0, str(ROOT))

import analysis  # noqa: E402
from analysis import figures  # noqa: E402
from msm.errors import MsmError  # noqa: E402

# Per-seed rates (seeds 0, 1, 2) of each (spec, arm), and the expected mean and SEM by hand:
# SEM = sd(ddof=1) / sqrt(3).
AFFORD = {
    ("aff", "baseline"): [0.2, 0.4, 0.6],  # mean 0.4, sd 0.2 -> SEM 0.2/sqrt(3) = 0.11547
    ("aff", "msm_aft"): [0.7, 0.8, 0.9],  # mean 0.8, sd 0.1 -> SEM 0.05774
    ("am", "baseline"): [0.5, 0.5, 0.5],  # mean 0.5, SEM 0
    ("am", "msm_aft"): [0.3, 0.6, 0.9],  # mean 0.6, sd 0.3 -> SEM 0.17321
}
EXPECTED = {
    ("aff", "baseline"): (0.4, 0.2 / math.sqrt(3)),
    ("aff", "msm_aft"): (0.8, 0.1 / math.sqrt(3)),
    ("am", "baseline"): (0.5, 0.0),
    ("am", "msm_aft"): (0.6, 0.3 / math.sqrt(3)),
}
BASE_RATE = 0.45
ARM_SETTINGS = {
    "baseline": ("none", "none", None),
    "aft_only": ("none", "cot", 1250),
    "msm_only": ("lora", "none", None),
    "msm_aft": ("lora", "cot", 1250),
}


def job_record(spec, arm, seed, job_dir, **metrics):
    midtrain, aft, scale = ARM_SETTINGS[arm]
    return dict(spec=spec, model="tiny", arm=arm, midtrain=midtrain, aft=aft, aft_scale=scale,
                seed=seed, eval="cheese", job_dir=str(job_dir), **metrics)


def write_job(job_dir: Path, record: dict | None) -> Path:
    """A Hydra job folder; ``record=None`` is a crashed job (config dump, no metrics.json)."""
    (job_dir / ".hydra").mkdir(parents=True)
    if record is not None:
        (job_dir / "metrics.json").write_text(json.dumps(record))
    return job_dir


def make_sweep(root: Path, afford=AFFORD, nest="") -> Path:
    """2 specs x 2 arms x 3 seeds; ``nest`` puts job folders deeper (e.g. a launcher's subfolder)."""
    job = 0
    for (spec, arm), rates in afford.items():
        for seed, rate in enumerate(rates):
            job_dir = root / nest / str(job)
            write_job(job_dir, job_record(
                spec, arm, seed, job_dir,
                **{"affordability/rate": rate, "affordability/n": 50, "affordability/failures": 0,
                   "affordability/art/rate": 0.5, "affordability/art/n": 10,
                   "america/rate": 0.1 * (seed + 1), "america/n": 40,
                   "base/affordability/rate": BASE_RATE, "base/affordability/n": 50,
                   "train/aft/loss": 1.5, "train/midtrain/learning_rate": 1e-4},
            ))
            job += 1
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


@pytest.fixture
def sweep(tmp_path):
    return make_sweep(tmp_path / "sweep")


def row(summary, spec, arm, metric="affordability/rate"):
    hit = summary[(summary.spec == spec) & (summary.arm == arm) & (summary.metric == metric)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


# ---------------------------------------------------------------- results


def test_load_sweep_one_row_per_job(sweep):
    df = analysis.load_sweep(sweep)
    assert len(df) == 12
    assert list(df.columns[: len(analysis.IDENTITY)]) == list(analysis.IDENTITY)
    assert sorted(df["seed"].tolist()) == [0] * 4 + [1] * 4 + [2] * 4
    # Arms without AFT have no scale: missing, not 0 and not a float 1250.0.
    assert df.loc[df.arm == "baseline", "aft_scale"].isna().all()
    assert df.loc[df.arm == "msm_aft", "aft_scale"].tolist() == [1250] * 6
    assert df.loc[(df.spec == "am") & (df.arm == "msm_aft"), "affordability/rate"].tolist() == [0.3, 0.6, 0.9]


def test_load_sweep_finds_nested_job_folders(tmp_path):
    df = analysis.load_sweep(make_sweep(tmp_path / "sweep", nest="launcher/a/b"))
    assert len(df) == 12
    assert all("/launcher/a/b/" in d for d in df["job_dir"])


def test_load_sweep_fills_job_dir_when_absent(tmp_path):
    job = tmp_path / "sweep" / "0"
    record = job_record("aff", "baseline", 0, job, **{"affordability/rate": 0.5})
    del record["job_dir"]
    write_job(job, record)
    assert analysis.load_sweep(tmp_path / "sweep")["job_dir"].tolist() == [str(job)]


def test_load_sweep_warns_about_jobs_without_metrics(sweep, caplog):
    write_job(sweep / "12", None)  # crashed job with a Hydra config dump
    (sweep / "13").mkdir()  # crashed before Hydra wrote anything
    with caplog.at_level(logging.WARNING, logger="analysis"):
        df = analysis.load_sweep(sweep)
    assert len(df) == 12
    warned = "\n".join(r.getMessage() for r in caplog.records)
    assert str(sweep / "12") in warned and str(sweep / "13") in warned
    assert str(sweep / "11") not in warned  # finished jobs are not reported


def test_load_sweep_without_any_metrics_names_the_folder(tmp_path):
    empty = tmp_path / "empty_sweep"
    write_job(empty / "0", None)
    with pytest.raises(MsmError, match="empty_sweep.*no metrics.json"):
        analysis.load_sweep(empty)
    with pytest.raises(MsmError, match="does_not_exist"):
        analysis.load_sweep(tmp_path / "does_not_exist")


def test_load_sweep_rejects_a_malformed_metrics_file(sweep):
    (sweep / "5" / "metrics.json").write_text("{not json")
    with pytest.raises(MsmError, match=r"5/metrics.json"):
        analysis.load_sweep(sweep)


def test_rate_columns_and_headline_metrics(sweep):
    df = analysis.load_sweep(sweep)
    assert analysis.rate_columns(df) == [
        "affordability/rate", "affordability/art/rate", "america/rate", "base/affordability/rate"]
    assert analysis.headline_metrics(df) == ["affordability/rate", "base/affordability/rate", "america/rate"]


def test_to_long_carries_counts(sweep):
    long = analysis.to_long(analysis.load_sweep(sweep))
    assert list(long.columns) == [*analysis.IDENTITY, "job_dir", "metric", "value", "n", "k", "failures"]
    assert len(long) == 12 * 4  # 12 jobs x 4 rates; losses and counts are not rates
    art = long[long.metric == "affordability/art/rate"]
    assert (art["n"] == 10).all() and (art["value"] == 0.5).all()
    assert set(long.loc[long.metric == "america/rate", "n"]) == {40}
    with pytest.raises(MsmError, match="nope/rate"):
        analysis.to_long(analysis.load_sweep(sweep), ["nope/rate"])


def test_to_long_drops_missing_values(sweep):
    df = analysis.load_sweep(sweep)
    df.loc[0, "america/rate"] = np.nan
    long = analysis.to_long(df, ["america/rate"])
    assert len(long) == 11 and long["value"].notna().all()


# ---------------------------------------------------------------- stats


def test_summarize_matches_hand_computed_mean_and_sem(sweep):
    summary = analysis.summarize(analysis.load_sweep(sweep), ["affordability/rate"])
    assert len(summary) == 4  # baseline groups (aft_scale missing) are kept, not dropped
    for (spec, arm), (mean, sem) in EXPECTED.items():
        got = row(summary, spec, arm)
        assert got["mean"] == pytest.approx(mean, abs=1e-12)
        assert got["sem"] == pytest.approx(sem, abs=1e-12)
        assert got["n_seeds"] == 3 and got["seeds"] == [0, 1, 2]
        assert got["n"] == 150  # 3 seeds x 50 items
    assert row(summary, "aff", "baseline")["sem"] == pytest.approx(0.11547005, abs=1e-8)
    assert pd.isna(row(summary, "aff", "baseline")["aft_scale"])
    assert row(summary, "aff", "msm_aft")["aft_scale"] == 1250


def test_summarize_defaults_to_every_rate_in_paper_order(sweep):
    summary = analysis.summarize(analysis.load_sweep(sweep))
    assert summary["metric"].unique().tolist() == analysis.rate_columns(analysis.load_sweep(sweep))
    first = summary[summary.metric == "affordability/rate"]
    assert first[["spec", "arm"]].values.tolist() == [
        ["aff", "baseline"], ["aff", "msm_aft"], ["am", "baseline"], ["am", "msm_aft"]]


def test_summarize_single_seed_has_nan_sem(tmp_path):
    sweep = make_sweep(tmp_path / "s", afford={("aff", "msm_only"): [0.7]})
    got = row(analysis.summarize(analysis.load_sweep(sweep)), "aff", "msm_only")
    assert got["mean"] == pytest.approx(0.7) and got["n_seeds"] == 1 and math.isnan(got["sem"])


def test_summarize_by_other_columns_and_errors(sweep):
    df = analysis.load_sweep(sweep)
    one_spec = df[df.spec == "aff"]
    by_arm = analysis.summarize(one_spec, ["affordability/rate"], by=["arm"])
    base = by_arm[by_arm.arm == "baseline"].iloc[0]
    values = AFFORD[("aff", "baseline")]
    assert base["mean"] == pytest.approx(np.mean(values))
    assert base["sem"] == pytest.approx(np.std(values, ddof=1) / math.sqrt(3))
    assert base["n_seeds"] == 3
    with pytest.raises(MsmError, match="wandb_group"):
        analysis.summarize(df, by=["spec", "wandb_group"])


def test_a_group_that_repeats_a_seed_is_an_error_naming_the_missing_column(sweep):
    with pytest.raises(MsmError, match=r"holds seed 0 more than once.*\['spec'\]"):
        analysis.summarize(analysis.load_sweep(sweep), ["affordability/rate"], by=["arm"])


def test_compare_matches_scipy_welch(sweep):
    df = analysis.load_sweep(sweep)
    a, b = AFFORD[("aff", "msm_aft")], AFFORD[("aff", "baseline")]
    expected = stats.ttest_ind(a, b, equal_var=False)
    got = analysis.compare(df, "affordability/rate", {"spec": "aff", "arm": "msm_aft"},
                           {"spec": "aff", "arm": "baseline"})
    assert got["diff"] == pytest.approx(0.4)
    assert got["mean_a"] == pytest.approx(0.8) and got["mean_b"] == pytest.approx(0.4)
    assert got["t"] == pytest.approx(expected.statistic) and got["p"] == pytest.approx(expected.pvalue)
    assert got["n_a"] == 3 and got["n_b"] == 3
    # Welch, not Student: with unequal variances the two p-values differ.
    assert got["p"] != pytest.approx(stats.ttest_ind(a, b, equal_var=True).pvalue)


def test_compare_selects_missing_aft_scale_with_none(sweep):
    df = analysis.load_sweep(sweep)
    got = analysis.compare(df, "affordability/rate", {"aft_scale": 1250}, {"aft_scale": None})
    assert got["n_a"] == 6 and got["n_b"] == 6
    assert got["mean_b"] == pytest.approx(np.mean(AFFORD[("aff", "baseline")] + AFFORD[("am", "baseline")]))
    with pytest.raises(MsmError, match="no jobs"):
        analysis.compare(df, "affordability/rate", {"arm": "aft_only"}, {"arm": "baseline"})


# ---------------------------------------------------------------- figures


@pytest.fixture
def drawn(monkeypatch):
    """Keep each figure bar_by_arm saves, to check what is on it, not just that a file exists."""
    figs = []
    original = figures.Figure.savefig

    def keep(self, *args, **kwargs):
        figs.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(figures.Figure, "savefig", keep)
    return figs


def test_bar_by_arm_draws_means_sem_and_base_line(sweep, tmp_path, drawn):
    out = analysis.bar_by_arm(analysis.load_sweep(sweep), "affordability/rate", tmp_path / "f" / "a.png")
    assert out == tmp_path / "f" / "a.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = drawn[-1].axes[0]
    heights = sorted(round(p.get_height(), 6) for c in ax.containers for p in c)
    assert heights == sorted(round(m, 6) for m, _ in EXPECTED.values())
    # Each error bar (with its caps) is one solid line spanning mean - SEM to mean + SEM.
    spans = sorted(
        (round(np.nanmin(line.get_ydata()), 6), round(np.nanmax(line.get_ydata()), 6))
        for line in ax.lines
        if line.get_linestyle() == "-"
    )
    assert spans == sorted((round(m - s, 6), round(m + s, 6)) for m, s in EXPECTED.values())
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and set(dashed[0].get_ydata()) == {BASE_RATE}


def test_bar_by_arm_without_base_column_has_no_line(sweep, tmp_path, drawn):
    analysis.bar_by_arm(analysis.load_sweep(sweep), "america/rate", tmp_path / "b.png")
    assert not [line for line in drawn[-1].axes[0].lines if line.get_linestyle() == "--"]
    with pytest.raises(MsmError, match="nope/rate"):
        analysis.bar_by_arm(analysis.load_sweep(sweep), "nope/rate", tmp_path / "c.png")


def test_bar_by_arm_separates_aft_scales_and_models(tmp_path, drawn):
    """A scaling sweep has one arm at several sizes; each size must be its own bar, not an average."""
    records = []
    for model, base in (("tiny", 0.5), ("smollm2_135m", 0.3)):
        for scale, rates in ((1250, [0.1, 0.3]), (5000, [0.6, 0.8])):
            for seed, rate in enumerate(rates):
                rec = job_record("aff", "aft_only", seed, "x", **{"affordability/rate": rate,
                                                                  "base/affordability/rate": base})
                records.append(dict(rec, model=model, aft_scale=scale))
        records.append(job_record("aff", "baseline", 0, "x", **{"affordability/rate": 0.4}) | {"model": model})
    analysis.bar_by_arm(pd.DataFrame(records), "affordability/rate", tmp_path / "s.png")
    ax = drawn[-1].axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == ["baseline", "aft_only @1250", "aft_only @5000"]
    heights = sorted(round(p.get_height(), 6) for c in ax.containers for p in c)
    assert heights == [0.2, 0.2, 0.4, 0.4, 0.7, 0.7]
    # One dashed base segment per model (hlines), at that model's own untrained rate.
    segments = [seg for coll in ax.collections if isinstance(coll, LineCollection) for seg in coll.get_segments()]
    assert sorted(round(seg[0][1], 6) for seg in segments) == [0.3, 0.5]


# ---------------------------------------------------------------- CLI


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "analysis", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_prints_table_and_writes_summary_and_figures(sweep):
    write_job(sweep / "12", None)
    proc = run_cli(sweep)
    assert proc.returncode == 0, proc.stderr
    for cell in ("0.400000 \u00b1 0.115470 (n=3)", "0.800000 \u00b1 0.057735 (n=3)", "0.500000 \u00b1 0.000000 (n=3)",
                 "0.600000 \u00b1 0.173205 (n=3)", "0.450000 \u00b1 0.000000 (n=3)"):
        assert cell in proc.stdout
    assert "== affordability/rate ==" in proc.stdout and "== america/rate ==" in proc.stdout
    assert "affordability/art/rate" not in proc.stdout  # breakdowns only on request
    assert str(sweep / "12") in proc.stderr  # the crashed job is reported

    summary = pd.read_csv(sweep / "summary.csv")
    assert set(summary["metric"]) == {"affordability/rate", "base/affordability/rate", "america/rate"}
    got = summary[(summary.metric == "affordability/rate") & (summary.spec == "am") & (summary.arm == "msm_aft")]
    assert got["mean"].item() == pytest.approx(0.6) and got["sem"].item() == pytest.approx(0.3 / math.sqrt(3))
    pngs = sorted(p.name for p in (sweep / "figures").iterdir() if not p.name.startswith("fig"))
    assert pngs == ["affordability-rate.png", "america-rate.png"]  # base/ is the dashed line, not a figure


def test_cli_metric_and_figures_options(sweep, tmp_path):
    proc = run_cli(sweep, "--metric", "affordability/art/rate", "--figures", tmp_path / "figs")
    assert proc.returncode == 0, proc.stderr
    assert "== affordability/art/rate ==" in proc.stdout and "0.500000 \u00b1 0.000000 (n=3)" in proc.stdout
    assert "== america/rate ==" not in proc.stdout
    assert "affordability-art-rate.png" in [p.name for p in (tmp_path / "figs").iterdir()]
    assert not (sweep / "figures").exists()


def test_cli_fails_in_one_line_on_an_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_cli(tmp_path / "empty")
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "no metrics.json" in proc.stderr and str(tmp_path / "empty") in proc.stderr


def test_cli_unknown_metric_exits_1(sweep):
    proc = run_cli(sweep, "--metric", "nope/rate")
    assert proc.returncode == 1 and "nope/rate" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- notebook

NOTEBOOK = ROOT / "analysis" / "notebook.ipynb"


def code_cells():
    nb = json.loads(NOTEBOOK.read_text())
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_notebook_is_valid_nbformat4_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["nbformat"] == 4 and isinstance(nb["nbformat_minor"], int)
    assert {c["cell_type"] for c in nb["cells"]} == {"markdown", "code"}
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == len(ids)
    for cell in code_cells():
        assert cell["outputs"] == [] and cell["execution_count"] is None
    source = "".join("".join(c["source"]) for c in code_cells())
    assert "import analysis" in source
    for call in ("load", "summarize", "run_report", "paper_figures", "bar_by_arm", "compare"):
        assert f"analysis.{call}(" in source
