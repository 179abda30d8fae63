"""The artifact store: content addressing, atomic publish, resume after a crash, one builder at a time."""

import json
import multiprocessing as mp
import time

import pytest

from msm.store import Build, LockTimeout, Store, artifact_key


def test_key_depends_on_everything_it_should():
    base = artifact_key("s", {"a": 1, "b": [1, 2]}, {"x": "k1"}, 1)
    assert base == artifact_key("s", {"b": [1, 2], "a": 1}, {"x": "k1"}, 1)  # order of keys is irrelevant
    assert base != artifact_key("t", {"a": 1, "b": [1, 2]}, {"x": "k1"}, 1)
    assert base != artifact_key("s", {"a": 2, "b": [1, 2]}, {"x": "k1"}, 1)
    assert base != artifact_key("s", {"a": 1, "b": [1, 2]}, {"x": "k2"}, 1)
    assert base != artifact_key("s", {"a": 1, "b": [1, 2]}, {"x": "k1"}, 2)


def test_build_publishes_with_manifest_and_reuses(tmp_path):
    store = Store(tmp_path)
    calls = []

    def builder(work):
        calls.append(work)
        (work / "out.txt").write_text("hello")
        return {"count": 3}

    art = store.build(Build("stage", {"n": 1}, {}, 1, builder))
    assert art.path == tmp_path / "stage" / art.key
    assert (art.path / "out.txt").read_text() == "hello"
    manifest = json.loads((art.path / "manifest.json").read_text())
    assert manifest["info"] == {"count": 3} and list(manifest["files"]) == ["out.txt"] and manifest["resumed"] is False
    again = store.build(Build("stage", {"n": 1}, {}, 1, builder))
    assert len(calls) == 1 and again.path == art.path and again.info == {"count": 3}
    assert [r.built for r in store.records] == [True, False]


def test_crash_publishes_nothing_and_rerun_resumes(tmp_path):
    store = Store(tmp_path)

    def crashes(work):
        (work / "checkpoint").write_text("step 5")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        store.build(Build("train", {}, {}, 1, crashes))
    key = artifact_key("train", {}, {}, 1)
    assert store.get("train", key) is None
    assert not (tmp_path / "train" / key).exists()  # nothing at the final path that could look complete

    seen = {}

    def resumes(work):
        seen["checkpoint"] = (work / "checkpoint").read_text()
        (work / "final").write_text("done")
        return {}

    art = store.build(Build("train", {}, {}, 1, resumes))
    assert seen["checkpoint"] == "step 5"
    assert art.manifest["resumed"] is True
    assert not (tmp_path / "train" / ".partial" / key).exists()


def test_folder_without_manifest_is_not_trusted(tmp_path):
    store = Store(tmp_path)
    key = artifact_key("s", {}, {}, 1)
    (tmp_path / "s" / key).mkdir(parents=True)
    (tmp_path / "s" / key / "junk").write_text("half")
    assert store.get("s", key) is None
    art = store.build(Build("s", {}, {}, 1, lambda w: (w / "good").write_text("ok") and {}))
    assert sorted(p.name for p in art.path.iterdir()) == ["good", "manifest.json"]


def _slow_build(root, out_queue):
    store = Store(root)

    def builder(work):
        (work / "pid").write_text(str(mp.current_process().pid))
        time.sleep(1.0)
        return {}

    art = store.build(Build("shared", {"x": 1}, {}, 1, builder))
    out_queue.put((store.records[0].built, (art.path / "pid").read_text()))


def test_concurrent_jobs_build_once(tmp_path):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_slow_build, args=(tmp_path, q)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sum(built for built, _ in results) == 1
    assert len({pid for _, pid in results}) == 1  # all three read the one published artifact


def test_resume_skips_a_checkpoint_cut_off_mid_save(tmp_path):
    from msm.train.loop import last_complete_checkpoint

    for step, state in ((5, '{"global_step": 5}'), (10, '{"global_step": 10}'), (15, '{"global_st')):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-20").mkdir()  # killed before its state file was written
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-10", "checkpoint-5"]
    assert last_complete_checkpoint(tmp_path / "missing") is None


def _hold_lock_forever(root, ready):
    store = Store(root)

    def builder(work):
        ready.set()
        time.sleep(600)

    store.build(Build("shared", {"x": 2}, {}, 1, builder))


def test_waiting_job_names_the_holder_and_gives_up_after_its_timeout(tmp_path, caplog):
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock_forever, args=(tmp_path, ready))
    holder.start()
    try:
        assert ready.wait(60)
        store = Store(tmp_path, lock_timeout_s=1.5)
        t0 = time.monotonic()
        with caplog.at_level("INFO", logger="msm.store"), pytest.raises(LockTimeout) as err:
            store.build(Build("shared", {"x": 2}, {}, 1, lambda w: {}))
        assert 1.4 < time.monotonic() - t0 < 30
        assert f"pid {holder.pid}" in str(err.value) and "paths.lock_timeout_s" in str(err.value)
        assert any("waiting for shared/" in r.getMessage() and f"pid {holder.pid}" in r.getMessage()
                   for r in caplog.records)
    finally:
        holder.kill()
        holder.join(30)


def test_a_killed_holder_never_blocks_the_next_build(tmp_path):
    """kill -9 while holding the lock: the OS releases it, the next job builds at once (resuming the
    partial folder) and overwrites the holder note the dead job left."""
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock_forever, args=(tmp_path, ready))
    holder.start()
    assert ready.wait(60)
    holder.kill()
    holder.join(30)
    store = Store(tmp_path, lock_timeout_s=10)
    t0 = time.monotonic()
    art = store.build(Build("shared", {"x": 2}, {}, 1, lambda w: (w / "ok").write_text("1") and {}))
    assert time.monotonic() - t0 < 5
    assert art.manifest["resumed"] is True
    assert not list((tmp_path / "shared").glob("*.holder.json"))
