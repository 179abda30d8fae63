"""The analysis of sweeps over any knob: every configuration its own row with the knob named, one measurement
only when the whole identity is equal, sweeps written before jobs recorded their configuration, comparisons
within each level of a varying field, and curves over numeric knobs.

Sweeps are job folders written by the tests with known per-seed rates; the old-format sweep's
``.hydra/config.yaml`` files are the configs Hydra composes for ``train.py`` (msm/job.py reads them).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import analysis
from analysis import cli, figures, reports
from analysis.stats import benjamini_hochberg
from msm.config import register_configs
from msm.errors import MsmError
from msm.paths import CONF_DIR

register_configs()
ARMS = {"baseline": ("none", "none"), "aft_only": ("none", "cot"), "msm_aft": ("lora", "cot")}
LRS = (1e-4, 5e-5)
# Per-seed affordability rates by (arm, midtrain.lr); AFT only and the baseline have no MSM learning rate.
RATES = {("aft_only", None): [0.40, 0.42, 0.44], ("msm_aft", 1e-4): [0.60, 0.64, 0.62],
         ("msm_aft", 5e-5): [0.50, 0.52, 0.48], ("baseline", None): [0.30, 0.30, 0.33]}


def record(arm, seed, job_dir, lr=None, rate=0.5, america=0.5, **config):
    midtrain, aft = ARMS[arm]
    cfg = {"midtrain.method": midtrain, "aft.method": aft, "eval.scorer": "letter", "data.seed": 0}
    if midtrain != "none":
        cfg.update({"midtrain.lr": lr, "midtrain.lora.r": 64})
    if aft != "none":
        cfg["aft_scale.rows"] = 240
    cfg.update(config)
    return dict(spec="cheese_affordability", model="tiny", arm=arm, midtrain=midtrain, aft=aft,
                aft_data="cheese" if aft != "none" else None, aft_scale=240 if aft != "none" else None, seed=seed,
                eval="auto:cheese", scorer="letter", generator="offline" if midtrain != "none" else None,
                datagen="demo" if midtrain != "none" else None, judge=None, experiment="demo",
                job_dir=str(job_dir), config=cfg,
                **{"affordability/rate": rate, "affordability/n": 100, "america/rate": america, "america/n": 70,
                   "base/affordability/rate": 0.45, "base/affordability/n": 100, "target/value": "affordability"})


def write(root: Path, records: list[dict]) -> Path:
    for i, rec in enumerate(records):
        job = root / str(i)
        (job / ".hydra").mkdir(parents=True)
        (job / "metrics.json").write_text(json.dumps({**rec, "job_dir": str(job)}))
    return root


def lr_sweep(root: Path) -> Path:
    recs = [record(arm, seed, None, lr=lr, rate=r, america=0.5 - 0.01 * seed)
            for (arm, lr), rates in RATES.items() for seed, r in enumerate(rates)]
    return write(root, recs)


def test_a_knob_outside_the_labels_gives_a_row_per_value_and_is_named(tmp_path):
    df = analysis.load(lr_sweep(tmp_path / "s")).jobs
    assert len(df) == 12 and analysis.varying_fields(df) == ["midtrain.lr"]
    assert "midtrain.lr" in analysis.group_columns(df)
    summary = analysis.summarize(df, ["affordability/rate"])
    msm = summary[summary["arm"] == "msm_aft"].set_index("midtrain.lr")
    assert msm.loc[1e-4, "mean"] == pytest.approx(0.62) and msm.loc[5e-5, "mean"] == pytest.approx(0.50)
    assert (msm["n_seeds"] == 3).all()
    text = cli.format_table(summary, analysis.group_columns(df))
    assert "midtrain.lr" in text.splitlines()[2] and "0.0001" in text and "0.00005" in text


def test_fields_a_label_decides_are_not_shown_again(tmp_path):
    recs = [record("msm_aft", s, None, lr=1e-4, **{"model.source": src}) | {"model": m}
            for s in range(2) for m, src in (("tiny", "tiny"), ("smollm2_135m", "smollm2_gguf"))]
    df = analysis.load(write(tmp_path / "s", recs)).jobs
    assert analysis.varying_fields(df) == []  # model says it all
    recs += [record("msm_aft", s, None, lr=5e-5, **{"model.source": "tiny"}) for s in range(2)]
    assert analysis.varying_fields(analysis.load(write(tmp_path / "t", recs)).jobs) == ["midtrain.lr"]


def test_two_jobs_are_one_measurement_only_when_the_whole_identity_is_equal(tmp_path, caplog):
    same = [record("baseline", 0, None), record("baseline", 0, None)]  # a baseline launched at two aft scales
    with caplog.at_level(logging.WARNING, logger="analysis"):
        df = analysis.load(write(tmp_path / "a", same)).jobs
    assert len(df) == 1
    warned = "\n".join(r.getMessage() for r in caplog.records)
    assert str(tmp_path / "a" / "0") in warned and str(tmp_path / "a" / "1") in warned and "one measurement" in warned
    other = [record("msm_aft", 0, None, lr=1e-4), record("msm_aft", 0, None, lr=1e-4, **{"midtrain.lora.r": 8})]
    assert len(analysis.load(write(tmp_path / "b", other)).jobs) == 2  # they differ in one field: two rows


def test_a_sweep_folder_given_twice_is_listed_not_double_counted(tmp_path, caplog):
    sweep = lr_sweep(tmp_path / "s")
    with caplog.at_level(logging.WARNING, logger="analysis"):
        df = analysis.load([sweep, sweep]).jobs
    assert len(df) == 12
    assert sum("loaded twice" in r.getMessage() for r in caplog.records) == 12


def test_by_still_overrides_the_grouping_and_names_what_it_would_merge(tmp_path):
    df = analysis.load(lr_sweep(tmp_path / "s")).jobs
    with pytest.raises(MsmError, match=r"differ in \['midtrain.lr'\]"):
        analysis.summarize(df, ["affordability/rate"], by=["spec", "arm"])
    assert len(analysis.summarize(df, ["affordability/rate"], by=["arm", "midtrain.lr"])) == 4


def _compose(*overrides):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=["model=tiny", *overrides])


def test_a_sweep_written_before_jobs_recorded_their_configuration_loads(tmp_path):
    """Old records: labels and metrics only, no ``config`` and no ``datagen``; the configuration is read from
    the job's .hydra/config.yaml, with a key the schema no longer has and one it has gained since."""
    for i, (lr, seed) in enumerate([(1e-4, 0), (1e-4, 1), (5e-5, 0), (5e-5, 1)]):
        job = tmp_path / "old" / str(i)
        (job / ".hydra").mkdir(parents=True)
        cfg = OmegaConf.to_container(_compose(f"midtrain.lr={lr}", f"seed={seed}"))
        cfg["midtrain"]["retired_knob"] = 3  # removed from the schema since
        del cfg["midtrain"]["max_tokens"]  # added since: takes its default
        (job / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(cfg))
        rec = record("msm_aft", seed, job, rate=0.5 + i / 100)
        del rec["config"], rec["datagen"]
        (job / "metrics.json").write_text(json.dumps(rec))
    df = analysis.load(tmp_path / "old").jobs
    assert len(df) == 4 and analysis.varying_fields(df) == ["midtrain.lr"]
    assert sorted(df["midtrain.lr"]) == [5e-5, 5e-5, 1e-4, 1e-4] and set(df["datagen"]) == {"demo"}
    assert set(df["eval.kind"]) == {"cheese"}  # eval=auto, read off the record's "auto:cheese"
    assert df["midtrain.max_tokens"].isna().all() and "midtrain.retired_knob" not in df


def test_reports_compare_within_each_level_and_correct_over_the_whole_family(tmp_path):
    df = analysis.load(lr_sweep(tmp_path / "s")).jobs
    table = reports.run_report(df, "cheese")
    vs_aft = table[(table["comparison"] == "MSM+AFT vs AFT only") & (table["metric"] == "affordability/rate")]
    assert sorted(vs_aft["midtrain.lr"]) == [5e-5, 1e-4]  # each row says its level
    by_lr = vs_aft.set_index("midtrain.lr")
    assert by_lr.loc[1e-4, "mean_a"] == pytest.approx(0.62) and by_lr.loc[5e-5, "mean_a"] == pytest.approx(0.50)
    assert list(vs_aft["mean_b"]) == pytest.approx([0.42, 0.42]) and (vs_aft["n_seeds_b"] == 3).all()  # the one AFT-only arm
    did = table[table["comparison"].str.startswith("double dissociation")]
    assert sorted(did["midtrain.lr"]) == [5e-5, 1e-4]
    assert np.allclose(table["welch_q"], benjamini_hochberg(table["welch_p"]), equal_nan=True)  # one family
    base = table[table["comparison"] == "AFT only vs baseline"]
    assert len(base[base["metric"] == "affordability/rate"]) == 1  # neither side has the field: compared once


def test_numeric_knobs_get_curves_on_a_log_axis_when_they_span_ten_times(tmp_path, monkeypatch):
    recs = [record(arm, s, None, lr=lr, rate=r, **{"eval.scorer": "letter", "midtrain.max_tokens": dose})
            for (arm, lr), rates in RATES.items() if arm != "baseline" for s, r in enumerate(rates)
            for dose in ((1000, 20000) if arm == "msm_aft" else (None,))]
    df = analysis.load(write(tmp_path / "s", recs)).jobs
    assert analysis.numeric_knobs(df) == ["midtrain.lr", "midtrain.max_tokens"]  # aft_scale is the same everywhere
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, stem: drawn.append((fig, stem)) or [stem])
    figures.knob_curve(df, "affordability/rate", "midtrain.max_tokens", tmp_path / "c")
    fig, _ = drawn[-1]
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["1,000", "20,000"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "MSM+AFT [midtrain.lr=5e-05] (n=3 seeds)" in legend and "MSM+AFT [midtrain.lr=0.0001] (n=3 seeds)" in legend
    assert "AFT only, no midtrain.max_tokens (n=3 seeds)" in legend and "untrained model" in legend
    figures.knob_curve(df, "affordability/rate", "midtrain.lr", tmp_path / "d")
    assert drawn[-1][0].axes[0].get_xscale() == "linear"  # 5e-5 to 1e-4: twice, not ten times


def test_a_curve_whose_points_have_different_seeds_says_so_at_each_point(tmp_path, monkeypatch):
    """A dose curve's small doses at one seed beside the main dose at three: the legend gives the range and each
    point its own n, so the band at the main dose is not read as the whole line's."""
    recs = [record("msm_aft", s, None, lr=1e-4, rate=0.5 + 0.02 * s, **{"midtrain.max_tokens": dose})
            for dose, seeds in ((1000, (0,)), (4000, (0,)), (16000, (0, 1, 2))) for s in seeds]
    recs += [record(arm, s, None, rate=0.4) for arm in ("aft_only", "baseline") for s in range(3)]
    df = analysis.load(write(tmp_path / "s", recs)).jobs
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, stem: drawn.append(fig) or [stem])
    figures.knob_curve(df, "affordability/rate", "midtrain.max_tokens", tmp_path / "c")
    ax = drawn[-1].axes[0]
    legend = ax.get_legend()
    assert "MSM+AFT (n=1-3 seeds a point)" in [t.get_text() for t in legend.get_texts()]
    assert sorted(t.get_text() for t in ax.texts) == ["n=1", "n=1", "n=3"]
    levels = [h for h, t in zip(legend.legend_handles, legend.get_texts()) if ", no midtrain.max_tokens" in t.get_text()]
    assert len(levels) == 2 and len({(h.get_linestyle(), h.get_color()) for h in levels}) == 2  # told apart
    even = [r for r in recs if r["config"].get("midtrain.max_tokens") != 16000 or r["seed"] == 0]
    figures.knob_curve(analysis.load(write(tmp_path / "e", even)).jobs, "affordability/rate", "midtrain.max_tokens",
                       tmp_path / "d")
    assert not drawn[-1].axes[0].texts  # one seed everywhere: the legend says it once


def test_value_probabilities_get_curves_beside_their_rates(tmp_path):
    recs = [record(arm, s, None, lr=lr, rate=r) | {"affordability/p_aligned": 0.5 + r / 10}
            for (arm, lr), rates in RATES.items() for s, r in enumerate(rates)]
    result = cli.analyse([write(tmp_path / "s", recs)], echo=lambda *a: None)
    names = {p.name for p in result["written"]}
    assert {"curve-midtrain.lr-affordability-rate.png", "curve-midtrain.lr-affordability-p_aligned.png"} <= names
    assert "curve-midtrain.lr-america-p_aligned.png" not in names  # no probability recorded for it, no curve


def test_the_cli_writes_the_knob_into_every_file(tmp_path):
    sweep = lr_sweep(tmp_path / "s")
    result = cli.analyse([sweep], echo=lambda *a: None)
    summary = pd.read_csv(sweep / "summary.csv")
    assert "midtrain.lr" in summary.columns and "midtrain.lr" in pd.read_csv(sweep / "report-cheese.csv").columns
    names = {p.name for p in result["written"]}
    assert "curve-midtrain.lr-affordability-rate.png" in names and "curve-midtrain.lr-affordability-rate.pdf" in names
