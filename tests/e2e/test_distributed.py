"""Two data-parallel training processes (torchrun workers over gloo, the CPU stand-in for one worker per GPU)
compute the single-process run: the same first loss, the same tokens and steps, the same mean loss up to
float rounding in how the two workers' gradients are summed."""

import pytest

from .conftest import read_json, run_train

pytestmark = pytest.mark.slow
JOB = ["model=tiny", "aft=none", "stages=[data,midtrain]", "datagen.documents.target_documents=200",
       "midtrain.batch_size=4", "midtrain.max_steps=12", "midtrain.save_steps=5", "logger=none", "threads=1"]
REL_TOL = 1e-5  # measured: 6e-7 relative on the mean loss over 20 updates


def _midtrain(tmp_path, name, *extra):
    out = run_train([*JOB, *extra, f"paths.store={tmp_path / name}", f"hydra.run.dir={tmp_path / (name + '_job')}"])
    assert out.returncode == 0, out.stderr[-3000:]
    (manifest,) = [read_json(p) for p in (tmp_path / name).glob("midtrain/[0-9a-f]*/manifest.json")]
    return manifest


def test_two_gloo_workers_match_one_process(tmp_path):
    one = _midtrain(tmp_path, "one")
    two = _midtrain(tmp_path, "two", "midtrain.processes=2")
    a, b = one["info"], two["info"]
    assert b["processes"] == 2 and one["key"] != two["key"]  # the worker count is part of the key (above 1)
    assert (a["steps"], a["tokens_seen"], a["rows"]) == (b["steps"], b["tokens_seen"], b["rows"])
    assert b["loss_start"] == pytest.approx(a["loss_start"], rel=REL_TOL)
    assert b["loss"] == pytest.approx(a["loss"], rel=REL_TOL) and b["final_loss"] == pytest.approx(a["final_loss"], rel=REL_TOL)
    assert "adapter/adapter_model.safetensors" in two["files"] and not any(f.startswith("checkpoints") for f in two["files"])
