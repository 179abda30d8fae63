"""When training checkpoints: every save_steps, every save_minutes, never at the very end; and what a
resumed multi-process stage keeps of the killed run (msm/train/loop.py, msm/train/distributed.py)."""

import json
import os
import subprocess
import sys
import time

from transformers import TrainerControl, TrainerState, TrainingArguments

from msm.train import distributed, loop


def _step(callback, step: int, max_steps: int = 10, should_save: bool = False) -> TrainerControl:
    control = TrainerControl(should_save=should_save)
    state = TrainerState(global_step=step, max_steps=max_steps)
    callback.on_step_end(TrainingArguments(output_dir="/tmp/unused", report_to="none"), state, control)
    return control


def test_the_finished_run_is_never_checkpointed_and_every_checkpoint_is_logged():
    watch = loop._Watch("midtrain", lambda record: None)
    mid = _step(watch, 5, should_save=True)
    assert mid.should_save and mid.should_log  # a checkpoint closes a logged window
    end = _step(watch, 10, should_save=True)
    assert not end.should_save and end.should_log  # resumed from a final checkpoint the Trainer would step again
    assert not _step(watch, 6).should_log


def test_timed_saves_ask_for_a_checkpoint_once_the_minutes_have_passed(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(loop.time, "monotonic", lambda: now[0])
    saves = loop._TimedSaves(minutes=2)
    now[0] += 119
    assert not _step(saves, 1).should_save
    now[0] += 2
    assert _step(saves, 2).should_save
    saves.on_save(None, None, None)  # the clock restarts at every checkpoint, whatever asked for it
    now[0] += 60
    assert not _step(saves, 3).should_save


def test_a_resumed_stage_keeps_the_killed_runs_curve_up_to_its_checkpoint(tmp_path):
    curve = tmp_path / "distributed_log.jsonl"
    rows = [{"aft/step": s, "aft/loss": 1.0 / s} for s in (1, 5, 10, 15)]
    curve.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"aft/step": 20, "aft/lo')  # cut by the kill
    assert distributed._curve_before(curve, "aft", 10) == rows[:3]
    assert distributed._curve_before(curve, "aft", 0) == []
    assert distributed._curve_before(tmp_path / "none.jsonl", "aft", 10) == []


def test_a_worker_sees_its_job_die_even_before_the_job_is_reaped():
    assert distributed._alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 30
    while distributed._alive(child.pid) and time.time() < deadline:  # exited, not yet reaped: a zombie
        time.sleep(0.05)
    assert not distributed._alive(child.pid)
    child.wait()
    assert not distributed._alive(child.pid)
