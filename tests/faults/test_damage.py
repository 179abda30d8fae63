"""Damage at rest is detected before use: a corpus cut short, a flipped byte in an adapter, a truncated
manifest. Each is named in one line, moved aside and rebuilt (or refused under ``store.verify=strict``),
and ``python -m msm.store verify`` finds it in a whole store. And a job stopped by SIGTERM (kill, timeout,
scancel, a time limit) says "interrupted" in its status, naming the signal, and exits 128 + 15."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, read_json, run_train
from tests.faults.harness import TALLY

pytestmark = pytest.mark.slow
ARGS = ["model=tiny", "datagen.documents.target_documents=40", "aft_scale.rows=16", "eval.max_items=20",
        "logger=none", "threads=1"]


def _job(tmp_path: Path, name: str, *extra: str):
    return run_train([*ARGS, f"paths.store={tmp_path / 'store'}", f"hydra.run.dir={tmp_path / name}", *extra])


def _artifact(store: Path, stage: str) -> Path:
    (found,) = [p.parent for p in (store / stage).glob("*/manifest.json")]
    return found


def _built(job: Path) -> dict[str, bool]:
    return {a["stage"]: a["built"] for a in read_json(job / "artifacts.json")}


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    root = tmp_path_factory.mktemp("damage")
    out = _job(root, "first", "stages=[data,midtrain]")
    assert out.returncode == 0, out.stderr[-2000:]
    return root


def _copy_store(first: Path, tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(first / "store", tmp_path / "store", symlinks=True)
    return tmp_path / "store"


def test_a_corpus_cut_short_is_rebuilt_before_anything_trains_on_it(first, tmp_path):
    store = _copy_store(first, tmp_path)
    docs = _artifact(store, "documents") / "documents.jsonl"
    lines = docs.read_text().splitlines(keepends=True)
    docs.write_text("".join(lines[: len(lines) // 4]))
    out = _job(tmp_path, "again", "stages=[data,midtrain]", "seed=1")  # a new seed trains on the corpus again
    assert out.returncode == 0, out.stderr[-2000:]
    said = out.stdout + out.stderr  # the warning is a log line (Hydra logs to stdout)
    assert "is damaged:" in said and "documents.jsonl" in said and "its manifest says" in said
    assert len(_artifact(store, "documents").joinpath("documents.jsonl").read_text().splitlines()) == len(lines)
    assert _built(tmp_path / "again")["documents"] is True
    assert list((store / "documents" / ".damaged").glob("*/DAMAGED.txt"))  # kept aside for a look
    steps = {s: read_json(m)["info"]["steps"] for s, m in
             ((p.parent.name, p) for p in (store / "midtrain").glob("*/manifest.json"))}
    assert len(set(steps.values())) == 1, steps  # seed 1 trained on the whole corpus, as seed 0 did
    TALLY.bad_inputs += 1


def test_a_flipped_byte_in_an_adapter_is_found_by_its_digest(first, tmp_path):
    store = _copy_store(first, tmp_path)
    weights = _artifact(store, "midtrain") / "adapter" / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size; its modification time changes
    weights.write_bytes(bytes(data))
    strict = _job(tmp_path, "strict", "stages=[data,midtrain]", "store.verify=strict")
    assert strict.returncode == 1 and "not used (store.verify=strict)" in strict.stderr
    assert "adapter_model.safetensors: its content changed since it was published" in strict.stderr
    verify = subprocess.run([sys.executable, "-m", "msm.store", "verify", "--store", str(store)], cwd=REPO,
                            capture_output=True, text=True)
    assert verify.returncode == 1 and "midtrain/" in verify.stdout and "1 damaged" in verify.stdout
    out = _job(tmp_path, "again", "stages=[data,midtrain]")
    assert out.returncode == 0, out.stderr[-2000:]
    assert _built(tmp_path / "again") == {"documents": False, "aft_pool": False, "base_model": False, "midtrain": True}
    clean = subprocess.run([sys.executable, "-m", "msm.store", "verify", "--store", str(store)], cwd=REPO,
                           capture_output=True, text=True)
    assert clean.returncode == 0 and "0 damaged" in clean.stdout
    TALLY.bad_inputs += 1


def test_a_truncated_manifest_is_named_and_repaired(first, tmp_path):
    store = _copy_store(first, tmp_path)
    manifest = _artifact(store, "aft_pool") / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])
    verify = subprocess.run([sys.executable, "-m", "msm.store", "verify", "--repair", "--store", str(store)],
                            cwd=REPO, capture_output=True, text=True)
    assert verify.returncode == 0 and f"{manifest}: unreadable manifest" in verify.stdout and "moved to" in verify.stdout
    out = _job(tmp_path, "again", "stages=[data]")
    assert out.returncode == 0, out.stderr[-2000:]
    assert _built(tmp_path / "again")["aft_pool"] is True
    TALLY.bad_inputs += 1


def test_sigterm_leaves_an_interrupted_status_naming_it_and_a_rerun_finishes(tmp_path):
    store, job = tmp_path / "store", tmp_path / "job"
    cmd = [sys.executable, str(REPO / "train.py"), *ARGS, "midtrain.epochs=20", f"paths.store={store}",
           f"hydra.run.dir={job}"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**__import__("os").environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"})
    deadline = time.monotonic() + 300
    while not list((store / "midtrain" / ".partial").glob("*")):  # midtraining has begun
        assert proc.poll() is None and time.monotonic() < deadline, "the job ended before midtraining"
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "interrupted by SIGTERM" in stderr and "Traceback" not in stderr
    status = json.loads((job / "status.json").read_text())
    assert status["status"] == "interrupted" and status["signal"] == "SIGTERM"
    out = run_train([*ARGS, "midtrain.epochs=20", f"paths.store={store}", f"hydra.run.dir={job}"])
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((job / "status.json").read_text())["status"] == "finished"
    TALLY.kills += 1
