"""A killed training stage resumes from its last checkpoint; the same config reproduces the same numbers."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import REPO, TINY, read_json, run_train

pytestmark = pytest.mark.slow


def _complete_checkpoints(store) -> list:
    """Checkpoints whose trainer_state.json (the Trainer writes it last) is whole."""
    done = []
    for state in store.glob("midtrain/.partial/*/checkpoints/checkpoint-*/trainer_state.json"):
        try:
            json.loads(state.read_text())
            done.append(state.parent)
        except (OSError, ValueError):
            pass
    return done


def test_killed_midtraining_resumes_from_its_checkpoint(tmp_path):
    store = tmp_path / "store"
    args = [*TINY, "datagen.documents.target_documents=400", "midtrain.max_steps=60", "midtrain.save_steps=5",
            "midtrain.batch_size=2", "aft=none", "stages=[data,midtrain]", f"paths.store={store}", "logger=none"]
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args, f"hydra.run.dir={tmp_path}/a"],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not _complete_checkpoints(store):  # a kill mid-save would leave none to resume
        assert proc.poll() is None, "training ended before it could be interrupted"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not list(store.glob("midtrain/[0-9a-f]*")), "a killed stage must not be published"

    out = run_train([*args, f"hydra.run.dir={tmp_path}/b"])
    assert out.returncode == 0, out.stderr[-3000:]
    (manifest,) = [read_json(p) for p in store.glob("midtrain/[0-9a-f]*/manifest.json")]
    assert manifest["resumed"] is True
    assert manifest["info"]["resumed_from"].startswith("checkpoint-") and manifest["info"]["steps"] == 60
    assert "checkpoints" not in {p.split("/")[0] for p in manifest["files"]}  # only final weights are published

    # The reported statistics are the whole run's, as if it had never stopped: the same mean loss (exactly;
    # the logged windows tile every step in both runs), the same first and last loss, steps and tokens.
    clean = tmp_path / "clean_store"
    out = run_train([*[a for a in args if not a.startswith("paths.store=")], f"paths.store={clean}",
                     f"hydra.run.dir={tmp_path}/c"])
    assert out.returncode == 0, out.stderr[-3000:]
    (uninterrupted,) = [read_json(p) for p in clean.glob("midtrain/[0-9a-f]*/manifest.json")]
    assert uninterrupted["resumed"] is False
    keys = ("loss", "loss_start", "final_loss", "steps", "tokens_seen", "rows", "label_tokens_per_epoch")
    assert {k: manifest["info"][k] for k in keys} == {k: uninterrupted["info"][k] for k in keys}


def test_same_config_same_numbers(tmp_path):
    """Two independent stores, same seed: every metric is identical."""
    records = []
    for name in ("a", "b"):
        out = run_train([*TINY, "seed=3", f"paths.store={tmp_path}/{name}", f"hydra.run.dir={tmp_path}/run_{name}",
                         "logger=none"])
        assert out.returncode == 0, out.stderr[-3000:]
        records.append({k: v for k, v in read_json(tmp_path / f"run_{name}" / "metrics.json").items()
                        if k != "job_dir" and not k.endswith(("_s", "_seconds"))})
    assert records[0] == records[1]
