"""What a job prints: quiet by default (tests/e2e/test_sweep.py checks that), everything with log_level=debug."""

import pytest

from .conftest import run_train

pytestmark = pytest.mark.slow

SHORT = ["model=tiny", "stages=[data,midtrain]", "midtrain.max_steps=3", "midtrain.logging_steps=1",
         "datagen.documents.target_documents=12", "logger=none"]


@pytest.mark.parametrize("level", ["info", "debug"])
def test_log_level(tmp_path, level):
    out = run_train([*SHORT, f"log_level={level}", f"paths.store={tmp_path / 'store'}", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 0, out.stderr[-3000:]
    trainer_lines = out.stdout.count("{'loss'")  # the Trainer's log dict, once per logging step
    if level == "debug":
        assert trainer_lines >= 3 and "tokenize documents" in out.stderr  # the datasets progress bars are back
    else:
        assert trainer_lines == 0 and "tokenize documents" not in out.stderr
        assert "midtrain: 100%" in out.stderr.replace("\r", "\n")  # one bar for the stage, with its updates
    summary = (tmp_path / "run" / "summary.txt").read_text()
    assert "no eval: the job stopped after stages=['data', 'midtrain']" in summary and summary in out.stdout
    assert "midtrain: 3 updates" in summary


def test_the_default_job_prints_no_warning(tmp_path):
    """`python train.py model=tiny`, as a newcomer's first run: the demo's relaxed corpus-health bar is said
    once, in its summary note, and nothing logs a WARNING line (the packaged cheese chats are measured,
    not judged)."""
    out = run_train(["model=tiny", f"paths.store={tmp_path / 'store'}", f"hydra.run.dir={tmp_path}/run"])
    assert out.returncode == 0, out.stderr[-3000:]
    printed = out.stdout + out.stderr
    assert "WARNING" not in printed, [line for line in printed.splitlines() if "WARNING" in line]
    summary = (tmp_path / "run" / "summary.txt").read_text()
    assert summary.count("datagen.health.min_distinct_2") == 1 and "corpus health" not in summary.lower()
