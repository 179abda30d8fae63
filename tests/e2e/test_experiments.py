"""Every experiment preset (conf/experiment/*.yaml) runs end to end at tiny size.

A preset names paper-scale data, LLM generators and judges and a 2,700-sample grid; here each is run
as one job with only the sizes cut and the paid parts swapped for their offline stand-ins, so a
preset that no longer composes, or a combination of its options that no longer runs, fails in CI.
"""

from pathlib import Path

import pytest

from .conftest import REPO, read_json, run_train

pytestmark = pytest.mark.slow

EXPERIMENTS = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))
TINY_SIZES = ["model=tiny", "generator=offline", "judge=none", "datagen=smoke", "aft_scale.rows=16",
              "midtrain.batch_size=2", "aft.batch_size=2", "eval.max_items=40", "eval.grid=smoke",
              "eval.samples_per_condition=1", "eval.max_new_tokens=16", "logger=none"]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_runs_at_tiny_size(experiment, tmp_path: Path, shared_store):
    out = run_train([f"experiment={experiment}", *TINY_SIZES, f"paths.store={shared_store}",
                     f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 0, out.stderr[-3000:]
    record = read_json(tmp_path / "run" / "metrics.json")
    assert record["experiment"] == experiment
    assert record["arm"] == ("aft_only" if experiment == "cheese_controls" else "msm_aft")  # the controls have no MSM
    rates = [k for k in record if k.endswith("/rate") and not k.startswith("base/")]
    assert rates and all(f"base/{k}" in record for k in rates)
    assert ("affordability/rate" in record) or ("harmful_evidence/rate" in record)


def _grid_cells(experiment: str) -> int:
    """Jobs in a preset's grid (its hydra.sweeper.params; 1 when it has none), by Hydra's own parser."""
    import math

    import yaml
    from hydra.core.override_parser.overrides_parser import OverridesParser

    preset = yaml.safe_load((REPO / "conf" / "experiment" / f"{experiment}.yaml").read_text())
    grid = ((preset.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in grid.items()])
    return math.prod(len(list(o.sweep_iterator())) for o in parsed)


def test_the_plan_of_a_preset_holds_every_cell_of_its_grid(tmp_path: Path):
    """A preset's grid lives in hydra.sweeper.params, not on the command line: the plan must see it too
    (the smallest such grid, to keep it quick)."""
    cells, experiment = min((_grid_cells(e), e) for e in EXPERIMENTS if _grid_cells(e) > 1)
    out = run_train(["-m", f"experiment={experiment}", "model=tiny", "plan=true", f"paths.store={tmp_path / 'store'}",
                     f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    plan = read_json(tmp_path / "sweep" / "plan.json")
    assert plan["jobs"] == cells and not plan["problems"]
    assert f"plan of {cells} job(s)" in out.stdout and not list((tmp_path / "store").rglob("*"))  # nothing built


@pytest.mark.parametrize("size, dose", [("cpu", "48000"), ("gpu", "1000000")])
def test_the_laptop_cheese_experiment_plans_its_sizes(size, dose, tmp_path: Path):
    """`python train.py -m experiment=cheese_cpu plan=true` composes its 32 jobs and shows what it will train."""
    out = run_train(["-m", "experiment=cheese_cpu", f"cheese_size={size}", "plan=true",
                     f"paths.store={tmp_path / 'store'}", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    assert out.returncode == 0, out.stderr[-3000:]
    assert "plan of 32 job(s)" in out.stdout and f"a dose of at most {dose} tokens (midtrain.max_tokens)" in out.stdout
    plan = read_json(tmp_path / "sweep" / "plan.json")
    assert plan["jobs"] == 32 and not plan["problems"]
