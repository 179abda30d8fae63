"""The statistics, reports, figures and W&B report of analysis/, against values computed independently.

Every expected number here is computed in the test from the raw per-seed values: by formula (Wilson,
Benjamini-Hochberg, the difference-in-differences and its SE), by enumerating every relabelling of the
seeds (the exact permutation test), or with scipy called directly (Welch, Fisher). Sweeps are written
by the tests as job folders with known per-seed rates.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import analysis
from analysis import figures, reports, wandb_report
from analysis.stats import compare_values, detectable_difference
from msm.errors import MsmError

ROOT = Path(__file__).resolve().parents[2]
ARMS = {"baseline": ("none", "none"), "aft_only": ("none", "cot"), "msm_only": ("lora", "none"),
        "msm_aft": ("lora", "cot"), "aft_only_no_cot": ("none", "no_cot"), "msm_aft_no_cot": ("lora", "no_cot")}


def record(spec, arm, seed, job_dir, experiment="cheese", scale=1250, **metrics):
    midtrain, aft = ARMS[arm]
    arm = arm.replace("_no_cot", "")
    return dict(spec=spec, model="tiny", midtrain=midtrain, aft=aft, arm=arm, aft_scale=scale if aft != "none" else None,
                eval="cheese" if experiment == "cheese" else "agentic", generator="offline", judge=None,
                experiment=experiment, seed=seed, job_dir=str(job_dir), **metrics)


def write(root: Path, records: list[dict]) -> Path:
    for i, rec in enumerate(records):
        job = root / str(i)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "config.yaml").write_text("logger:\n  project: msm-test\n  entity: null\n  group: null\n")
        rec = {**rec, "job_dir": str(job)}
        (job / "metrics.json").write_text(json.dumps(rec))
        (job / "status.json").write_text('{"status": "finished"}')
    return root


# Per-seed rates of the cheese sweep (4 seeds), chosen with ties, a zero-variance arm and a clear effect.
CHEESE = {
    ("cheese_affordability", "baseline"): ([0.40, 0.42, 0.38, 0.40], [0.50, 0.50, 0.50, 0.50]),
    ("cheese_affordability", "aft_only"): ([0.41, 0.43, 0.39, 0.45], [0.48, 0.52, 0.50, 0.49]),
    ("cheese_affordability", "msm_only"): ([0.44, 0.46, 0.40, 0.42], [0.50, 0.49, 0.51, 0.48]),
    ("cheese_affordability", "msm_aft"): ([0.60, 0.65, 0.58, 0.62], [0.51, 0.50, 0.47, 0.52]),
    ("cheese_america", "baseline"): ([0.40, 0.42, 0.38, 0.40], [0.50, 0.50, 0.50, 0.50]),
    ("cheese_america", "aft_only"): ([0.41, 0.43, 0.39, 0.45], [0.48, 0.52, 0.50, 0.49]),
    ("cheese_america", "msm_only"): ([0.40, 0.41, 0.42, 0.39], [0.55, 0.53, 0.54, 0.58]),
    ("cheese_america", "msm_aft"): ([0.42, 0.40, 0.44, 0.41], [0.66, 0.62, 0.64, 0.70]),
}
N_ITEMS = 100


def cheese_records():
    out = []
    for (spec, arm), (aff, am) in CHEESE.items():
        for seed, (a, m) in enumerate(zip(aff, am)):
            out.append(record(spec, arm, seed, "x", **{"target/value": spec.split("_")[1]}, **{
                "affordability/rate": a, "affordability/n": N_ITEMS, "affordability/k": round(a * N_ITEMS),
                "america/rate": m, "america/n": N_ITEMS, "america/k": round(m * N_ITEMS),
                "affordability/art/rate": a, "affordability/art/n": 10, "america/trade/rate": m, "america/trade/n": 10,
                "base/affordability/rate": 0.41, "base/america/rate": 0.49}))
    return out


@pytest.fixture
def cheese_sweep(tmp_path):
    return write(tmp_path / "cheese", cheese_records())


def perm_p(a, b) -> float:
    """Two-sided exact permutation p of the mean difference, by enumerating every relabelling."""
    pooled, n = np.concatenate([a, b]), len(a)
    obs = np.mean(a) - np.mean(b)
    null = []
    for idx in itertools.combinations(range(len(pooled)), n):
        mask = np.zeros(len(pooled), bool)
        mask[list(idx)] = True
        null.append(pooled[mask].mean() - pooled[~mask].mean())
    null, eps = np.array(null), 1e-12 * max(1.0, abs(obs))
    return min(1.0, 2 * min(np.mean(null >= obs - eps), np.mean(null <= obs + eps)))


def wilson_by_formula(k, n, z=stats.norm.ppf(0.975)):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def bh_by_formula(p):
    p = np.asarray(p, float)
    order = np.argsort(p)
    m = len(p)
    q = np.empty(m)
    running = 1.0
    for rank, i in reversed(list(enumerate(order, start=1))):
        running = min(running, p[i] * m / rank)
        q[i] = running
    return q


# ---- the statistics themselves ------------------------------------------------------------------------------


@pytest.mark.parametrize("a, b", [
    ([0.60, 0.65, 0.58, 0.62], [0.41, 0.43, 0.39, 0.45]),  # a clear effect
    ([0.5, 0.5, 0.6, 0.6], [0.5, 0.6, 0.5, 0.6]),  # ties everywhere: no effect
    ([0.1, 0.2, 0.3], [0.15, 0.25, 0.35, 0.45, 0.55]),  # unequal n
    ([0.0, 0.0, 0.0], [0.1, 0.0, 0.2]),  # an arm with zero events
])
def test_per_seed_tests_match_independent_computation(a, b):
    got = compare_values(a, b)
    welch = stats.ttest_ind(a, b, equal_var=False)
    assert got["diff"] == pytest.approx(np.mean(a) - np.mean(b), abs=1e-12)
    assert got["se_diff"] == pytest.approx(math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)), abs=1e-12)
    assert got["welch_p"] == pytest.approx(welch.pvalue, abs=1e-9) and got["welch_t"] == pytest.approx(welch.statistic)
    assert got["perm_p"] == pytest.approx(perm_p(np.array(a), np.array(b)), abs=1e-9) and got["perm_exact"]
    assert got["boot_lo"] <= got["diff"] + 1e-12 and got["diff"] - 1e-12 <= got["boot_hi"]
    assert compare_values(a, b) == got  # a fixed seed: the same table prints the same interval
    assert got["sem_a"] == pytest.approx(stats.sem(a)) and got["n_seeds_a"] == len(a)


def test_a_single_seed_gives_means_and_no_per_seed_test():
    got = compare_values([0.7], [0.2, 0.4])
    assert got["diff"] == pytest.approx(0.4) and math.isnan(got["sem_a"])
    assert all(math.isnan(got[k]) for k in ("se_diff", "welch_p", "perm_p", "boot_lo", "boot_hi"))


def test_fisher_on_pooled_counts_and_nan_counts():
    got = compare_values([0.5, 0.6], [0.1, 0.2], ka=55, na=100, kb=0, nb=100)  # zero events on one side
    assert got["fisher_p"] == pytest.approx(stats.fisher_exact([[55, 45], [0, 100]]).pvalue)
    assert math.isnan(compare_values([0.5, 0.6], [0.1, 0.2], ka=55, na=math.nan, kb=0, nb=100)["fisher_p"])


@pytest.mark.parametrize("k, n", [(0, 50), (3, 10), (50, 50), (231, 400)])
def test_wilson_matches_the_formula(k, n):
    assert analysis.wilson(k, n) == pytest.approx(wilson_by_formula(k, n), abs=1e-9)


def test_benjamini_hochberg_matches_the_formula_and_keeps_nan():
    p = [0.01, 0.04, 0.03, 0.20, 0.002]
    assert analysis.benjamini_hochberg(p) == pytest.approx(bh_by_formula(p), abs=1e-12)
    got = analysis.benjamini_hochberg([0.01, math.nan, 0.04])
    assert math.isnan(got[1]) and got[[0, 2]] == pytest.approx(bh_by_formula([0.01, 0.04]))


# ---- over sweeps ------------------------------------------------------------------------------------------


def test_summarize_pools_counts_with_wilson_and_valid_rates(tmp_path):
    recs = [record("rules", "msm_aft", s, "x", experiment="agentic", **{"misalignment/rate": r, "misalignment/n": n,
                                                                       "misalignment/k": k, "misalignment/failures": f})
            for s, (r, n, k, f) in enumerate([(0.2, 50, 10, 0), (0.1, 40, 4, 10), (0.3, 30, 9, 20)])]
    df = analysis.load(write(tmp_path / "s", recs)).jobs
    [row] = analysis.summarize(df, ["misalignment/rate"]).to_dict("records")
    assert (row["k"], row["n"], row["failures"]) == (23, 120, 30)
    assert row["valid_rate"] == pytest.approx(120 / 150) and row["pooled_rate"] == pytest.approx(23 / 120)
    assert (row["wilson_lo"], row["wilson_hi"]) == pytest.approx(wilson_by_formula(23, 120), abs=1e-9)
    assert row["mean"] == pytest.approx(0.2) and row["sem"] == pytest.approx(stats.sem([0.2, 0.1, 0.3]))


def test_grouping_never_merges_arms_that_differ_in_an_identity_column(tmp_path):
    recs = [record("rules", arm, s, "x", experiment="agentic", **{"misalignment/rate": r})
            for arm, rates in (("aft_only", [0.5, 0.6]), ("aft_only_no_cot", [0.2, 0.3])) for s, r in enumerate(rates)]
    df = analysis.load(write(tmp_path / "s", recs)).jobs
    summary = analysis.summarize(df, ["misalignment/rate"])
    assert sorted(zip(summary["aft"], summary["mean"].round(6))) == [("cot", 0.55), ("no_cot", 0.25)]
    table = reports.run_report(pd.concat([df, df.assign(arm="baseline", midtrain="none", aft="none", aft_scale=None,
                                                        **{"misalignment/rate": 0.9})]), "agentic")
    assert set(table["comparison"]) == {"AFT only (cot) vs baseline", "AFT only (no_cot) vs baseline"}


def test_the_loader_lists_failed_incomplete_and_stopped_jobs_and_counts_repeats_once(cheese_sweep):
    failed, running, stopped, bare = (cheese_sweep / str(i) for i in (100, 101, 102, 103))
    for job, status in ((failed, {"status": "failed", "error": "midtrain: the training loss became nan"}),
                        (running, {"status": "running", "started": "2026-12-01T10:00:00"}),
                        (stopped, {"status": "finished", "stages": ["data", "midtrain"]})):
        job.mkdir()
        (job / "status.json").write_text(json.dumps(status))
    (bare / ".hydra").mkdir(parents=True)
    repeat = cheese_sweep / "104"
    repeat.mkdir()
    (repeat / "metrics.json").write_text((cheese_sweep / "0" / "metrics.json").read_text())
    sweep = analysis.load(cheese_sweep)
    assert len(sweep.jobs) == len(cheese_records())  # the repeated job is the same measurement: counted once
    problems = {Path(p.job_dir).name: (p.status, p.reason) for p in sweep.problems.itertuples()}
    assert problems["100"] == ("failed", "midtrain: the training loss became nan")
    assert problems["101"][0] == "running" and "still running" in problems["101"][1]
    assert "stopped after stages=['data', 'midtrain']" in problems["102"][1]
    assert problems["103"][0] == "incomplete"


def test_aft_scale_all_recorded_as_null_becomes_the_pool_size(tmp_path):
    rec = record("rules", "msm_aft", 0, "x", experiment="agentic", scale=None,
                 **{"misalignment/rate": 0.1, "data/aft_pool_rows": 2000})
    assert analysis.load(write(tmp_path / "s", [rec])).jobs["aft_scale"].tolist() == [2000]


# ---- reports ---------------------------------------------------------------------------------------------


def test_the_cheese_report_compares_arms_per_spec_and_measures_the_dissociation(cheese_sweep):
    df = analysis.load(cheese_sweep).jobs
    assert reports.pick_report(df) == "cheese"
    table = reports.run_report(df, "cheese")
    row = table[(table.comparison == "MSM+AFT vs AFT only") & (table.spec == "cheese_affordability")
                & (table.metric == "affordability/rate")].iloc[0]
    a, b = CHEESE[("cheese_affordability", "msm_aft")][0], CHEESE[("cheese_affordability", "aft_only")][0]
    assert row["diff"] == pytest.approx(np.mean(a) - np.mean(b), abs=1e-12)
    assert row["welch_p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, abs=1e-12)
    ka, kb = sum(round(x * N_ITEMS) for x in a), sum(round(x * N_ITEMS) for x in b)
    assert row["fisher_p"] == pytest.approx(stats.fisher_exact([[ka, 400 - ka], [kb, 400 - kb]]).pvalue)

    did = table[table.comparison.str.startswith("double dissociation") & (table.spec == "cheese_america")].iloc[0]
    own_a, cross_a = CHEESE[("cheese_america", "msm_aft")][1], CHEESE[("cheese_america", "msm_aft")][0]
    own_b, cross_b = CHEESE[("cheese_america", "aft_only")][1], CHEESE[("cheese_america", "aft_only")][0]
    da, db = np.subtract(own_a, cross_a), np.subtract(own_b, cross_b)
    assert did["metric"] == "america/rate - affordability/rate"
    assert did["diff"] == pytest.approx((np.mean(own_a) - np.mean(own_b)) - (np.mean(cross_a) - np.mean(cross_b)))
    assert did["se_diff"] == pytest.approx(math.sqrt(da.var(ddof=1) / 4 + db.var(ddof=1) / 4))
    assert did["welch_p"] == pytest.approx(stats.ttest_ind(da, db, equal_var=False).pvalue)
    ok = table["welch_p"].notna()
    assert table.loc[ok, "welch_q"].to_numpy() == pytest.approx(bh_by_formula(table.loc[ok, "welch_p"]))


def test_the_cheese_report_contrasts_the_two_specs_and_says_what_it_could_detect(tmp_path):
    """Between specs: spec A's own-minus-cross against spec B's, for MSM+AFT and for MSM only; on p_aligned too
    when the results hold it. It equals the sum of the two specs' dissociations (the shared arm cancels)."""
    recs = cheese_records()
    for r in recs:  # p_aligned: the rate pulled halfway to chance, so the two statistics differ
        r["affordability/p_aligned"] = 0.5 + (r["affordability/rate"] - 0.5) / 2
        r["america/p_aligned"] = 0.5 + (r["america/rate"] - 0.5) / 2
    table = reports.run_report(analysis.load(write(tmp_path / "c", recs)).jobs, "cheese")
    between = table[table.comparison.str.startswith("between specs")]
    assert set(between.comparison) == {"between specs (own - cross): MSM+AFT, cheese_affordability vs cheese_america",
                                       "between specs (own - cross): MSM only, cheese_affordability vs cheese_america"}
    assert set(between.metric) == {"affordability/rate - america/rate", "affordability/p_aligned - america/p_aligned"}
    for arm, name in (("msm_aft", "MSM+AFT"), ("msm_only", "MSM only")):
        row = between[between.comparison.str.contains(name, regex=False)
                      & (between.metric == "affordability/rate - america/rate")].iloc[0]
        da = np.subtract(*CHEESE[("cheese_affordability", arm)])
        db = np.subtract(*CHEESE[("cheese_america", arm)])
        assert row["diff"] == pytest.approx(da.mean() - db.mean())
        assert row["perm_p"] == pytest.approx(perm_p(da, db)) and row["perm_exact"]
        se = math.sqrt(da.var(ddof=1) / 4 + db.var(ddof=1) / 4)
        assert row["mde_80"] == pytest.approx((stats.t.ppf(0.975, row["welch_df"]) + stats.t.ppf(0.8, row["welch_df"])) * se)
    did = table[table.comparison.str.startswith("double dissociation") & table.metric.str.contains("rate")]
    msm_aft = between[between.comparison.str.contains("MSM+AFT", regex=False)
                      & (between.metric == "affordability/rate - america/rate")].iloc[0]
    assert msm_aft["diff"] == pytest.approx(did["diff"].sum())  # AFT only cancels out of the sum
    aligned = table[table.comparison.str.startswith("double dissociation") & table.metric.str.contains("p_aligned")]
    assert len(aligned) == 2 and aligned["diff"].to_numpy() == pytest.approx(did["diff"].to_numpy() / 2)


def test_the_detectable_difference_grows_with_the_standard_error_and_needs_one():
    assert math.isnan(detectable_difference(math.nan, 6.0))
    assert detectable_difference(0.02, 6.0) == pytest.approx(2 * detectable_difference(0.01, 6.0))
    assert detectable_difference(0.01, 1e6) == pytest.approx((1.959964 + 0.841621) * 0.01, rel=1e-5)


def agentic_records(scales=(1250,), specs=("rules",)):
    rng = np.random.default_rng(3)
    out = []
    for spec in specs:
        for arm in ("baseline", "aft_only", "aft_only_no_cot", "msm_only", "msm_aft"):
            for scale in scales if ARMS[arm][1] != "none" else (None,):
                for seed in range(3):
                    m = float(np.clip(0.5 - 0.2 * ("msm" in arm) - 0.1 * ("aft" in arm) + rng.normal(0, 0.02), 0, 1))
                    out.append(record(spec, arm, seed, "x", experiment="agentic", scale=scale, **{
                        "misalignment/rate": m, "misalignment/n": 58, "misalignment/k": round(m * 58),
                        "misalignment/failures": 2, "harmful_evidence/rate": m / 2, "harmful_evidence/n": 60,
                        "policy_misuse/rate": 0.1 + 0.1 * (spec == "rules"), "policy_misuse/n": 20,
                        "base/misalignment/rate": 0.55}))
    return out


def test_the_agentic_report_makes_the_papers_comparisons(tmp_path):
    df = analysis.load(write(tmp_path / "a", agentic_records())).jobs
    table = reports.run_report(df, reports.pick_report(df))
    assert set(table["comparison"]) == {
        "MSM+AFT (cot) vs AFT only (cot)", "MSM+AFT (cot) vs AFT only (no_cot)", "MSM+AFT (cot) vs baseline",
        "MSM only vs baseline", "AFT only (cot) vs baseline", "AFT only (no_cot) vs baseline"}
    assert set(table["metric"]) == {"misalignment/rate", "harmful_evidence/rate", "policy_misuse/rate"}
    row = table[(table.comparison == "MSM+AFT (cot) vs AFT only (no_cot)") & (table.metric == "misalignment/rate")].iloc[0]
    assert row["failures_a"] == 6 and row["n_items_a"] == 174


def test_several_aft_scales_are_compared_at_each_scale_never_averaged(tmp_path):
    df = analysis.load(write(tmp_path / "a", agentic_records(scales=(1250, 5000)))).jobs
    assert reports.pick_report(df) == "agentic"  # the experiment says so; scaling is asked for by name
    table = reports.run_report(df, "scaling")
    assert sorted(table["aft_scale"].unique()) == [1250, 5000]
    vs_base = reports.run_report(df, "agentic")
    vs_base = vs_base[vs_base.comparison == "MSM+AFT (cot) vs baseline"]
    assert sorted(vs_base["aft_scale"].unique()) == [1250, 5000] and (vs_base["n_seeds_a"] == 3).all()


def test_spec_science_compares_each_spec_with_rules(tmp_path):
    df = analysis.load(write(tmp_path / "a", agentic_records(specs=("rules", "value_aug", "rule_aug")))).jobs
    table = reports.run_report(df, "spec_science")
    vs_rules = table[table.comparison.str.contains(" vs rules")]
    assert set(vs_rules["comparison"]) == {"MSM+AFT (cot): value_aug vs rules", "MSM+AFT (cot): rule_aug vs rules"}
    pm = vs_rules[vs_rules.metric == "policy_misuse/rate"]
    assert pm["diff"].to_numpy() == pytest.approx([-0.1, -0.1])


def test_an_unknown_report_or_an_impossible_one_is_a_clear_error(cheese_sweep):
    df = analysis.load(cheese_sweep).jobs
    with pytest.raises(MsmError, match="unknown report"):
        reports.run_report(df, "nope")
    with pytest.raises(MsmError, match="none of its metrics"):
        reports.run_report(df, "agentic")


# ---- the command line prints what was computed --------------------------------------------------------------


def test_every_number_the_cli_prints_for_a_comparison_matches_to_1e6(cheese_sweep):
    proc = subprocess.run([sys.executable, "-m", "analysis", str(cheese_sweep)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    block = proc.stdout.split("-- affordability/rate --")[1].split("\n-- ")[0]
    line = next(ln for ln in block.splitlines() if "MSM+AFT vs AFT only" in ln and "cheese_affordability" in ln)
    printed = [float(x) for x in re.findall(r"-?\d+\.\d+(?:e-?\d+)?|\d+e-\d+", line)]
    a, b = CHEESE[("cheese_affordability", "msm_aft")][0], CHEESE[("cheese_affordability", "aft_only")][0]
    got = compare_values(a, b)
    ka, kb = sum(round(x * N_ITEMS) for x in a), sum(round(x * N_ITEMS) for x in b)
    expected = [np.mean(a), stats.sem(a), np.mean(b), stats.sem(b), np.mean(a) - np.mean(b), got["boot_lo"],
                got["boot_hi"], stats.ttest_ind(a, b, equal_var=False).pvalue]
    assert printed[:len(expected)] == pytest.approx(expected, abs=1e-6)
    assert perm_p(np.array(a), np.array(b)) == pytest.approx(printed[len(expected) + 1], abs=1e-6)
    assert stats.fisher_exact([[ka, 400 - ka], [kb, 400 - kb]]).pvalue == pytest.approx(printed[-1], abs=1e-6)
    table = pd.read_csv(cheese_sweep / "report-cheese.csv")
    assert {"welch_p", "perm_p", "boot_lo", "fisher_p", "welch_q"} <= set(table.columns)
    assert (cheese_sweep / "figures" / "fig2_value_generalization.pdf").is_file()


# ---- figures ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, recs", [
    ("fig2_value_generalization", cheese_records()),
    ("fig3_misalignment_by_arm", agentic_records()),
    ("fig4_misalignment_by_aft_scale", agentic_records(scales=(1250, 5000))),
    ("fig5_spec_comparison", agentic_records(specs=("rules", "value_aug"))),
])
def test_each_paper_figure_is_drawn_as_png_and_pdf(tmp_path, name, recs):
    df = analysis.load(write(tmp_path / "s", recs)).jobs
    paths = analysis.paper_figures(df, tmp_path / "figs", [name])
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"


def test_figure_labels_count_seeds_and_separate_configurations(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, stem: drawn.append(fig) or [])
    df = analysis.load(write(tmp_path / "s", agentic_records(scales=(1250, 5000)))).jobs
    figures.misalignment_by_arm(df, tmp_path / "x")
    labels = [t.get_text() for t in drawn[-1].axes[0].get_legend().get_texts()]
    assert "MSM+AFT @1250 (n=3 seeds)" in labels and "MSM+AFT @5000 (n=3 seeds)" in labels
    assert "baseline (n=3 seeds)" in labels and "untrained model" in labels


# ---- the W&B report, offline ------------------------------------------------------------------------------


def test_the_wandb_report_definition_is_written_offline(tmp_path):
    pytest.importorskip("wandb_workspaces")
    df = analysis.load(write(tmp_path / "a", agentic_records(specs=("rules", "value_aug")))).jobs
    message = wandb_report.build_report(df, "spec_science", tmp_path)
    assert "offline" in message and "msm-test" in message and "2 section(s)" in message
    definition = json.loads((tmp_path / "wandb_report.json").read_text())
    assert definition["project"] == "msm-test" and definition["title"].startswith("msm spec_science")
    texts = json.dumps(definition)
    for section in ("Figure 5", "Figure 3"):
        assert section in texts
    panel_metrics = re.findall(r'"metrics": \[([^\]]*)\]', json.dumps(definition))
    assert panel_metrics and all(m.strip('" ') in df.columns for group in panel_metrics for m in group.split(","))
    assert "summary.spec" in texts and "stderr" in texts
