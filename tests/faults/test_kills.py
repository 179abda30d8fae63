"""kill -9 at seeded random points of every stage, then rerun: the job ends with exactly the metrics of an
uninterrupted run (training statistics included), and the store never holds a folder that looks complete
without being so, nor loses one it published."""

import json
import random
import shutil
import time
from pathlib import Path

import pytest

from tests.faults import harness
from tests.faults.harness import (
    TALLY,
    artifact_files,
    builds,
    comparable,
    kill_in_stage,
    lost_artifacts,
    run_to_end,
    stage_seconds,
)
from tests.integration.servers.scripted_writer import ScriptedWriter

pytestmark = pytest.mark.slow
KILLS_PER_STAGE = 10
SEED = 20261202


def job_args(base_url: str, store) -> list[str]:
    """The tiny model through every stage, with documents written by a (scripted) LLM over HTTP, so the
    data stage has steps, a response cache and a resume of its own; checkpoints every 2 updates."""
    return ["model=tiny", "spec=cheese_affordability", "generator=openai", "generator.model=scripted",
            f"generator.base_url={base_url}", "datagen=smoke", "aft_scale.rows=32", "eval.max_items=60",
            "midtrain.save_steps=2", "aft.save_steps=2", "midtrain.epochs=2", "logger=none", "threads=1",
            f"paths.store={store}"]


class StatelessWriter(ScriptedWriter):
    """The scripted writer with its answers a function of the request alone. The plain one answers a prompt
    differently the second time it sees it; a request a killed job sent counts as seen, so a rerun would
    get other documents than an uninterrupted run did, whatever msm did right."""

    def answer(self, prompt: str):
        self.seen.clear()
        return super().answer(prompt)


@pytest.fixture(scope="module")
def writer():
    with StatelessWriter().running() as server:
        yield server


@pytest.fixture(scope="module")
def reference(writer, tmp_path_factory):
    """One uninterrupted run: its metrics, the artifacts it built in order, and how long each took."""
    root = tmp_path_factory.mktemp("reference")
    metrics = run_to_end(job_args(writer.base_url, root / "store"), root / "job")
    return comparable(metrics), builds(root / "job"), stage_seconds(root / "job"), root / "store"


def _wipe_from(store, order, index, published):
    """Remove artifact ``index`` and everything built after it (published folders and work folders), so
    the next chain of kills meets that stage unbuilt again."""
    for stage, key in order[index:]:
        for path in (store / stage / key, store / stage / ".partial" / key):
            shutil.rmtree(path, ignore_errors=True)
        published.discard((stage, key))


def test_kill_nine_in_every_stage_then_rerun_equals_the_uninterrupted_run(writer, reference, tmp_path):
    """For each stage in build order: start the job, SIGKILL it at a random moment while it builds that
    stage, until it has been killed there KILLS_PER_STAGE times. Whenever the stage gets published across
    the kills, its files must equal the uninterrupted build's byte for byte; it is then removed (with
    everything after it) so the kills go on meeting it unbuilt. The kill window shrinks each time the
    stage outran it (a resumed stage is faster: its LLM answers are cached, its checkpoints done)."""
    expected, order, seconds, ref_store = reference
    rng = random.Random(SEED)
    store = tmp_path / "store"
    args = job_args(writer.base_url, store)
    published: set = set()
    runs = 0
    for index, (stage, key) in enumerate(order):
        name = "eval_base" if stage == "eval" and index == len(order) - 1 else stage
        window = seconds[(stage, key)] * 1.2
        in_stage = 0
        while in_stage < KILLS_PER_STAGE:
            outcome = kill_in_stage(args, tmp_path / f"run{runs}", store, stage, key, window, rng)
            runs += 1
            assert lost_artifacts(store, published) == []
            if not (store / stage / key / "manifest.json").is_file():
                assert outcome == "killed", (tmp_path / f"run{runs - 1}" / "child.log").read_text()[-3000:]
                in_stage += 1
                TALLY.kills += 1
                TALLY.kills_by_stage[name] = TALLY.kills_by_stage.get(name, 0) + 1
                continue
            TALLY.kills += outcome == "killed"  # it landed in a later stage: a kill all the same
            assert artifact_files(store, stage, key) == artifact_files(ref_store, stage, key), f"{stage} differs"
            window *= 0.6
            _wipe_from(store, order, index, published)
    metrics = run_to_end(args, tmp_path / "final")  # resumes the last stage; every earlier one is reused
    assert comparable(metrics) == expected
    for stage, key in order:
        assert artifact_files(store, stage, key) == artifact_files(ref_store, stage, key), f"{stage} differs"
    TALLY.lost += len(lost_artifacts(store, published))


@pytest.mark.parametrize("stage", ["midtrain", "aft"])
def test_kill_nine_in_the_middle_of_a_checkpoint_write(writer, reference, tmp_path, stage):
    """SIGKILL a job while its second checkpoint of ``stage`` is half on disk (weights and optimizer state
    written, RNG and trainer state not). The rerun drops the cut-off checkpoint, resumes from the complete
    one before it, and ends with the uninterrupted run's metrics and the same weights, byte for byte."""
    expected, order, _, ref_store = reference
    store = tmp_path / "store"
    args = job_args(writer.base_url, store)
    proc = harness.start(args, tmp_path / "killed", pause=(stage, 2))
    marker, deadline = tmp_path / "killed" / "paused", time.monotonic() + 300
    while not marker.is_file():
        assert proc.is_alive() and time.monotonic() < deadline, "the job never reached its second checkpoint"
        time.sleep(0.02)
    proc.kill()
    proc.join(60)
    TALLY.kills += 1
    TALLY.kills_by_stage[f"{stage} checkpoint write"] = TALLY.kills_by_stage.get(f"{stage} checkpoint write", 0) + 1
    cut = Path(marker.read_text())
    assert cut.is_dir() and not (cut / "trainer_state.json").exists()  # the kill left a checkpoint half written
    (complete,) = [p for p in cut.parent.glob("checkpoint-*") if p != cut]
    assert (complete / "trainer_state.json").is_file()

    metrics = run_to_end(args, tmp_path / "rerun")
    assert comparable(metrics) == expected
    (key,) = [k for s, k in order if s == stage]
    manifest = json.loads((store / stage / key / "manifest.json").read_text())
    assert manifest["resumed"] and manifest["info"]["resumed_from"] == complete.name
    assert artifact_files(store, stage, key) == artifact_files(ref_store, stage, key)
    assert lost_artifacts(store, set()) == []


def test_concurrent_jobs_on_one_store_with_kills_between(writer, reference, tmp_path):
    """Two jobs with the same config race on one store; one of them is killed at a random moment, three
    times over (some stages removed between rounds, so both race to build them again). The survivor is
    never blocked by the dead one's lock, nothing published is lost or half-written, and the job ends with
    the uninterrupted run's metrics."""
    expected, order, seconds, _ = reference
    rng = random.Random(SEED + 1)
    store = tmp_path / "store"
    args = job_args(writer.base_url, store)
    published: set = set()
    total = sum(seconds.values())
    for round_ in range(3):
        a, b = (harness.start(args, tmp_path / f"r{round_}{x}") for x in "ab")
        victim, survivor = (a, b) if rng.random() < 0.5 else (b, a)
        time.sleep(rng.uniform(0.5, 0.5 + total))
        victim.kill()
        victim.join(60)
        TALLY.kills += victim.exitcode == -9
        survivor.join(600)
        assert survivor.exitcode == 0
        assert lost_artifacts(store, published) == []
        _wipe_from(store, order, rng.randrange(len(order)), published)  # some stages are built again next round
    metrics = run_to_end(args, tmp_path / "final")
    assert comparable(metrics) == expected
    TALLY.lost += len(lost_artifacts(store, published))
