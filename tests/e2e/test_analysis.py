"""The analysis of real sweeps of the tiny model: the sweep-end callback, the reports, the four figures,
the notebook executed by a real kernel, the W&B samples tables and the offline W&B report definition."""

import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO, TINY, run_train

pytestmark = pytest.mark.slow
TINY_AGENTIC = ["model=tiny", "experiment=agentic_smoke", "eval.samples_per_condition=1", "eval.max_new_tokens=16"]


@pytest.fixture(scope="module")
def cheese_sweep(tmp_path_factory):
    """The cheese experiment's six arms (2 specs x midtrain x aft) x 2 seeds, at tiny size."""
    root = tmp_path_factory.mktemp("cheese")
    out = run_train(["-m", "experiment=cheese", *TINY, "datagen=smoke", "aft_scale.rows=16", "eval.max_items=40",
                     "seed=0-1", f"paths.store={root / 'store'}", f"hydra.sweep.dir={root / 'sweep'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    return root / "sweep", out


@pytest.fixture(scope="module")
def agentic_sweep(tmp_path_factory):
    """Two specs x MSM or not x AFT or not x two AFT scales x 2 seeds, on the agentic smoke grid."""
    root = tmp_path_factory.mktemp("agentic")
    out = run_train(["-m", *TINY_AGENTIC, "spec=rules,value_aug", "midtrain=none,lora", "aft=none,cot",
                     "aft_scale.rows=8,16", "seed=0-1", "logger=none", f"paths.store={root / 'store'}",
                     f"hydra.sweep.dir={root / 'sweep'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    return root / "sweep"


def analyse(*args):
    return subprocess.run([sys.executable, "-m", "analysis", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def test_the_sweep_end_callback_writes_tables_report_and_figure_2(cheese_sweep):
    sweep, out = cheese_sweep
    assert "analysing the sweep" in out.stdout and "16 job(s) finished, 0 failed;" in out.stdout
    for name in ("summary.csv", "report-cheese.csv", "figures/fig2_value_generalization.png",
                 "figures/fig2_value_generalization.pdf"):
        assert (sweep / name).is_file(), name
    report = (sweep / "report-cheese.csv").read_text()
    assert "double dissociation" in report and "MSM+AFT vs AFT only" in report
    for arm in ("MSM+AFT", "MSM only"):  # the pre-registered between-spec contrasts (results/cheese_cpu/PLAN.md)
        assert f"between specs (own - cross): {arm}, cheese_affordability vs cheese_america" in report


def test_every_job_logs_its_samples_as_a_wandb_table(cheese_sweep):
    sweep, _ = cheese_sweep
    tables = sorted(sweep.glob("*/wandb/offline-run-*/files/media/table/samples_*.table.json"))
    assert len(tables) == 16
    for path in tables:
        table = json.loads(path.read_text())
        assert {"question", "options", "p_aligned", "model_role"} <= set(table["columns"])
        roles = {row[table["columns"].index("model_role")] for row in table["data"]}
        # 40 items for the trained model, and 40 for the base unless the job is the baseline (the base itself)
        assert len(table["data"]) == 40 * len(roles) and roles <= {"trained", "base"}


def test_the_notebook_executes_on_the_sweep(cheese_sweep, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    sweep, _ = cheese_sweep
    nb = nbformat.read(REPO / "analysis" / "notebook.ipynb", as_version=4)
    os.environ["MSM_SWEEP"] = str(sweep)  # the kernel inherits it
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        del os.environ["MSM_SWEEP"]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert (sweep / "notebook" / "figures" / "fig2_value_generalization.png").is_file()
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2


def test_figures_3_4_and_5_and_the_agentic_reports(agentic_sweep, tmp_path):
    for report, figs in (("agentic", ["fig3_misalignment_by_arm"]), ("scaling", ["fig4_misalignment_by_aft_scale"]),
                         ("spec_science", ["fig5_spec_comparison"])):
        out = analyse(agentic_sweep, "--report", report, "--out", tmp_path / report)
        assert out.returncode == 0, out.stderr[-3000:]
        assert f"== report {report}" in out.stdout
        for fig in figs:
            assert (tmp_path / report / "figures" / f"{fig}.png").is_file() and (tmp_path / report / "figures" / f"{fig}.pdf").is_file()
    scaling = (tmp_path / "scaling" / "report-scaling.csv").read_text()
    assert "harmful_evidence/rate" in scaling and ",8," in scaling and ",16," in scaling


def test_the_offline_wandb_report_definition(cheese_sweep, tmp_path):
    sweep, _ = cheese_sweep
    out = analyse(sweep, "--wandb-report", "--out", tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "W&B report (offline)" in out.stdout and "1 section(s)" in out.stdout
    definition = json.loads((tmp_path / "wandb_report.json").read_text())
    assert definition["project"] == "msm" and "Figure 2" in json.dumps(definition)
