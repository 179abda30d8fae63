"""Content-addressed artifact store: every stage output lives at ``<root>/<stage>/<key>/``.

Why it is shaped like this:

* The key is a hash of the stage name, its resolved settings, the keys of its inputs and the version
  of the code that builds it (a :class:`Build` carries all four), so two jobs that need the same artifact (four seeds sharing one document corpus, every
  aft_scale sharing one midtrained model) compute the same key and build it once.
* Whoever first takes the stage's file lock builds; everyone else blocks on the lock and then finds
  the published folder. This works across processes and across Slurm nodes on a shared filesystem.
* A build writes into ``<root>/<stage>/.partial/<key>/``. Publishing writes ``manifest.json`` and then
  renames the folder into place in one atomic ``os.rename``, so a crash never leaves a folder at the
  final path that looks complete. The partial folder has a stable name on purpose: a rerun after a
  crash finds what the previous attempt left (for example Trainer checkpoints) and resumes from it.
* The manifest records every published file's size, modification time and sha256. Reuse checks them
  (:meth:`Store.damage`: sizes always, digests of files whose modification time changed, or every digest
  under ``verify=always``), so a corpus cut short, a flipped byte in an adapter or a truncated manifest is
  named in one line and the artifact moved aside to ``<stage>/.damaged/`` and rebuilt (``verify=strict``:
  refused), never used. ``python -m msm.store verify [--repair]`` checks a whole store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from msm import memory
from msm.errors import MsmError
from msm.jsonl import temp_files, write_json

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
LOCK_NOTE_EVERY_S = 60.0  # how often a waiting job says it is still waiting
DAMAGED = ".damaged"  # <stage>/.damaged/<key>-<time>: damaged artifacts, moved aside for a look, never used


class DamagedArtifact(MsmError):
    """A published artifact whose files no longer match its manifest (or whose manifest cannot be read)."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_records(folder: Path) -> dict[str, dict]:
    """``{relative path: {"size", "mtime_ns", "sha256"}}`` of every file under ``folder``: what a manifest keeps."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            st = p.stat()
            out[p.relative_to(folder).as_posix()] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                                     "sha256": file_sha256(p)}
    return out


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def files_digest(paths: Iterable[Path]) -> str:
    """16 hex chars of sha256 over the names and bytes of files that shape an artifact (prompt templates,
    data assets, chat templates): put it in the artifact's settings, and editing a file rebuilds exactly
    what was made from it."""
    h = hashlib.sha256()
    for path in sorted((Path(p) for p in paths), key=lambda p: (p.name, str(p))):  # the same files anywhere, same digest
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def content_digest(path: Path, cache_dir: Path | None = None) -> str:
    """16 hex chars of sha256 over what a file or a folder holds, wherever it is and whatever it is called: a
    file's bytes; a folder's files (dot-files aside), each as its path inside the folder and its bytes, in
    order. What a researcher brings (a corpus, an adapter, a checkpoint) is keyed by it, so one changed byte
    is a new artifact and a moved copy is the same one. With ``cache_dir``, a digest is kept there under the
    path, size and modification time of what it read, so a 60 GB checkpoint is read once, not once per job."""
    path = Path(path).expanduser().resolve()
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
    stamp = hashlib.sha256(_canonical([[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files]).encode())
    cached = Path(cache_dir) / f"{stamp.hexdigest()[:32]}.json" if cache_dir is not None else None
    if cached is not None and cached.is_file():
        return json.loads(cached.read_text())["digest"]
    h = hashlib.sha256()
    for p in files:
        name = "" if p == path else p.relative_to(path).as_posix()
        h.update(name.encode() + b"\0")
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    digest = h.hexdigest()[:16]
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_json(cached, {"path": str(path), "digest": digest})
    return digest


def artifact_key(stage: str, settings: Mapping[str, Any], inputs: Mapping[str, str], version: int) -> str:
    """The content address of a stage output: 16 hex chars of sha256 over everything it depends on."""
    payload = _canonical({"stage": stage, "settings": settings, "inputs": dict(inputs), "version": version})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Build:
    """One stage output to build or reuse: what its key is made of, and the function that makes it.

    ``version`` is the building code's own ``VERSION`` (kept beside that code): bump it when the code
    would now write something different, and every artifact it made, with everything downstream of it,
    is rebuilt instead of silently reused. ``run(work_dir)`` writes the stage's files into ``work_dir``
    and returns a JSON-able dict (counts, metrics) kept in the manifest under ``info``.

    ``publishes`` names what the stage writes that others read (``{"corpus": "documents.jsonl"}``): a later
    stage finds a file through its name (:meth:`Store.output`, :meth:`Artifact.file`), never by a file name
    of its own, and a build that did not write a declared file is not published.
    """

    stage: str
    settings: Mapping[str, Any]
    inputs: Mapping[str, str]
    version: int
    run: Callable[[Path], dict | None] = field(compare=False, repr=False)
    publishes: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return artifact_key(self.stage, self.settings, self.inputs, self.version)

    @property
    def ref(self) -> str:
        """How a downstream stage names this one among its inputs: ``<stage>/<key>``."""
        return f"{self.stage}/{self.key}"


def _published(stage: str, key: str, folder: Path, publishes: Mapping[str, str], name: str) -> Path:
    if name not in publishes:
        raise MsmError(f"{stage}/{key} publishes no {name!r} (it declares {sorted(publishes) or 'nothing'})")
    return folder / publishes[name]


@dataclass(frozen=True)
class Artifact:
    """A published stage output: its folder, key, manifest and the files it declares (:attr:`Build.publishes`)."""

    stage: str
    key: str
    path: Path
    manifest: dict = field(repr=False)
    publishes: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def info(self) -> dict:
        """What the builder reported (counts, metrics, model references)."""
        return self.manifest.get("info", {})

    def file(self, name: str) -> Path:
        """The path of the file (or folder) the stage published as ``name``."""
        return _published(self.stage, self.key, self.path, self.publishes, name)


@dataclass
class BuildRecord:
    """One ``Store.build`` call, kept so a job can report what it built and what it reused."""

    stage: str
    key: str
    built: bool
    seconds: float
    peak_rss_mb: float  # the process's resident-memory peak during the call (msm.memory)


def _holder_text(holder: Path) -> str:
    try:
        h = json.loads(holder.read_text())
        return f"pid {h['pid']} on {h['host']} (since {h['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another job"


class LockTimeout(MsmError):
    """A job waited longer than ``paths.lock_timeout_s`` for another job to finish building a stage."""


class Store:
    def __init__(self, root: str | Path, lock_timeout_s: float = -1, verify: str = "changed"):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock_timeout_s = lock_timeout_s
        self.verify = verify  # changed | always | strict (msm.config.Verify)
        self.records: list[BuildRecord] = []

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def output(self, b: Build, name: str) -> Path:
        """Where the file ``b`` publishes as ``name`` is (or will be, once built): known before anything runs,
        so a later stage's build is planned with it."""
        return _published(b.stage, b.key, self.path(b.stage, b.key), b.publishes, name)

    def get(self, stage: str, key: str) -> Artifact | None:
        """The published artifact, or None. A folder without a manifest is never returned; one whose
        manifest cannot be read raises :class:`DamagedArtifact` naming it."""
        final = self.path(stage, key)
        manifest = final / MANIFEST
        if not manifest.is_file():
            return None
        try:
            found = json.loads(manifest.read_text(encoding="utf-8"))
            if not isinstance(found, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            raise DamagedArtifact(f"{manifest}: unreadable manifest ({type(e).__name__}: {e})") from None
        return Artifact(stage, key, final, found, found.get("publishes") or {})

    def damage(self, art: Artifact, full: bool = False) -> list[str]:
        """What no longer matches the manifest: a file missing, of another size, or (when its modification
        time changed, or ``full``) with another sha256. Empty for an intact artifact, and for one published
        before manifests recorded sizes and digests (nothing to check it against)."""
        files = art.manifest.get("files")
        if not isinstance(files, dict):
            return []
        out = []
        for rel, rec in files.items():
            path = art.path / rel
            try:
                st = path.stat()
            except OSError:
                out.append(f"{path}: missing")
                continue
            if st.st_size != rec["size"]:
                out.append(f"{path}: {st.st_size:,} bytes, its manifest says {rec['size']:,}")
            elif (full or st.st_mtime_ns != rec["mtime_ns"]) and file_sha256(path) != rec["sha256"]:
                out.append(f"{path}: its content changed since it was published (sha256 differs)")
        return out

    def quarantine(self, art_path: Path, why: str) -> Path:
        """Move a damaged artifact to ``<stage>/.damaged/<key>-<time>`` (kept for a look, never used)."""
        dest = art_path.parent / DAMAGED / f"{art_path.name}-{time.strftime('%Y%m%dT%H%M%S')}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.rename(art_path, dest)
        (dest / "DAMAGED.txt").write_text(why + "\n", encoding="utf-8")
        return dest

    def _intact(self, b: Build) -> Artifact | None:
        """:meth:`find`, checked (:meth:`damage`): a damaged artifact is reported in one line, then moved aside
        so it is rebuilt, or under ``verify=strict`` refused."""
        try:
            found = self.find(b)
            problems = [] if found is None else self.damage(found, full=self.verify in ("always", "strict"))
        except DamagedArtifact as e:
            found, problems = None, [str(e)]
        if not problems:
            return found
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        what = f"{b.stage}/{b.key} is damaged: {problems[0]}{more}"
        if self.verify == "strict":
            raise DamagedArtifact(f"{what}; not used (store.verify=strict): move it aside or rebuild it with "
                                  f"python -m msm.store verify --repair")
        with self._lock(b.stage, b.key):
            try:  # again, under the lock: another job may have moved it aside and rebuilt it meanwhile
                again = self.find(b)
                damaged = again is not None and bool(self.damage(again, full=self.verify == "always"))
            except DamagedArtifact:
                damaged = True
            if damaged:
                moved = self.quarantine(self.path(b.stage, b.key), what)
                log.warning("%s; moved to %s and rebuilt", what, moved)
        return None

    def has(self, b: Build) -> bool:
        """Whether ``b`` is published with a readable manifest (for plans: its files are checked on reuse)."""
        try:
            return self.find(b) is not None
        except DamagedArtifact:
            return False

    def find(self, b: Build) -> Artifact | None:
        """:meth:`get` for a planned build: its published artifact (its files as the build declares them), or None."""
        found = self.get(b.stage, b.key)
        return None if found is None else replace(found, publishes=dict(b.publishes))

    def build(self, b: Build) -> Artifact:
        """Return the artifact for ``b``, building it if needed.

        If ``b.run`` raises, nothing is published and its work folder is kept so the next attempt can
        resume from what it left.
        """
        stage, key = b.stage, b.key
        t0 = time.perf_counter()
        memory.reset_peak()
        found = self._intact(b)
        if found is None:
            memory.release()  # what the previous stage freed, so this stage's peak is its own (~0.3 s: builds only)
            memory.reset_peak()
            stage_dir = self.root / stage
            (stage_dir / ".partial").mkdir(parents=True, exist_ok=True)
            with self._lock(stage, key):
                found = self.find(b)  # someone may have built it while we waited
                if found is None:
                    found = self._build_locked(b, key)
                    self.records.append(BuildRecord(stage, key, True, time.perf_counter() - t0, memory.peak_mb()))
                    return found
        log.info("reusing %s/%s", stage, key)
        self.records.append(BuildRecord(stage, key, False, time.perf_counter() - t0, memory.peak_mb()))
        return found

    @contextmanager
    def _lock(self, stage: str, key: str) -> Iterator[None]:
        """The stage's build lock. Whoever holds it is written beside it (pid, host, since when), so a job
        that has to wait says on what, for whom, and for how long it will wait (``lock_timeout_s``), then
        gives up with a clear message instead of waiting silently forever. The lock is an OS file lock: a
        holder that is killed releases it with its last file descriptor, so a crashed job never blocks
        the next; the holder file it leaves behind is only a note and is overwritten."""
        path = self.root / stage / f".{key}.lock"
        holder = path.with_suffix(".holder.json")
        lock = FileLock(str(path))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            waited, limit = time.monotonic(), self.lock_timeout_s
            log.info("waiting for %s/%s: %s is building it; waiting up to %s (paths.lock_timeout_s)", stage, key,
                     _holder_text(holder), "forever" if limit < 0 else f"{limit:.0f}s")
            while True:
                step = LOCK_NOTE_EVERY_S if limit < 0 else min(LOCK_NOTE_EVERY_S, limit - (time.monotonic() - waited))
                try:
                    lock.acquire(timeout=max(step, 0))
                    break
                except Timeout:
                    spent = time.monotonic() - waited
                    if 0 <= limit <= spent:
                        raise LockTimeout(
                            f"gave up after {spent:.0f}s waiting for {stage}/{key}, which {_holder_text(holder)} is "
                            f"building: raise paths.lock_timeout_s (now {limit:g}; -1 waits forever), or stop "
                            f"that job if it is stuck (its lock is {path})") from None
                    log.info("still waiting for %s/%s (%.0fs so far; %s)", stage, key, spent, _holder_text(holder))
            log.info("%s/%s: the lock is free after %.0fs", stage, key, time.monotonic() - waited)
        try:
            write_json(holder, {"pid": os.getpid(), "host": socket.gethostname(),
                                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            yield
        finally:
            holder.unlink(missing_ok=True)
            lock.release()

    def _build_locked(self, b: Build, key: str) -> Artifact:
        stage = b.stage
        work = self.root / stage / ".partial" / key
        resumed = work.exists()
        work.mkdir(parents=True, exist_ok=True)
        for stray in temp_files(work):  # a write the killed attempt never finished
            stray.unlink()
        log.info("%s %s/%s", "resuming" if resumed else "building", stage, key)
        t0 = time.time()
        info = b.run(work) or {}
        missing = [f"{name} ({rel})" for name, rel in b.publishes.items() if not (work / rel).exists()]
        if missing:  # kept unpublished, like any failed build: the next attempt starts from the work folder
            raise MsmError(f"{stage}/{key}: the build did not write what it declares: {', '.join(missing)}; "
                           "nothing was published")
        manifest = {
            "stage": stage,
            "key": key,
            "version": b.version,
            "settings": b.settings,
            "inputs": dict(b.inputs),
            "publishes": dict(b.publishes),
            "info": info,
            "files": file_records(work),  # size, mtime and sha256: reuse checks them (Store.damage)
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.time() - t0, 3),
            "resumed": resumed,
        }
        write_json(work / MANIFEST, manifest)
        final = self.path(stage, key)
        if final.exists():  # a stale folder without a manifest (e.g. copied in by hand): not ours to trust
            shutil.rmtree(final)
        os.rename(work, final)
        return Artifact(stage, key, final, json.loads((final / MANIFEST).read_text()), dict(b.publishes))


def verify_store(root: Path, repair: bool = False) -> tuple[int, list[str]]:
    """(artifacts checked, one line per damaged one) over a whole store, every digest read; with ``repair``
    each damaged artifact is moved aside (``<stage>/.damaged/``), so the next job that needs it rebuilds it."""
    store = Store(root)
    checked, damaged = 0, []
    for manifest in sorted(store.root.glob(f"*/*/{MANIFEST}")):
        folder = manifest.parent
        if folder.name.startswith(".") or folder.parent.name.startswith("."):
            continue
        checked += 1
        try:
            problems = store.damage(store.get(folder.parent.name, folder.name), full=True)
        except DamagedArtifact as e:
            problems = [str(e)]
        if problems:
            line = f"{folder.parent.name}/{folder.name}: {problems[0]}" + (
                f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            if repair:
                line += f" -> moved to {store.quarantine(folder, line)}"
            damaged.append(line)
    return checked, damaged


def main(argv: list[str] | None = None) -> int:
    """``python -m msm.store verify [--repair] [--store PATH]``: every artifact's files against its manifest."""
    import argparse

    from msm.paths import default_store

    parser = argparse.ArgumentParser(prog="python -m msm.store", description=main.__doc__)
    parser.add_argument("command", choices=["verify"])
    parser.add_argument("--store", type=Path, default=None,
                        help="the store (default: $MSM_STORE, else $XDG_CACHE_HOME or ~/.cache, /msm/store)")
    parser.add_argument("--repair", action="store_true", help="move damaged artifacts aside so they are rebuilt")
    args = parser.parse_args(argv)
    root = args.store or default_store()
    if not Path(root).is_dir():
        print(f"no store at {root}")
        return 1
    checked, damaged = verify_store(Path(root), repair=args.repair)
    for line in damaged:
        print(line)
    moved = " (moved aside)" if damaged and args.repair else ""
    print(f"{checked} artifact(s) checked, {len(damaged)} damaged{moved}")
    return 1 if damaged and not args.repair else 0


if __name__ == "__main__":
    raise SystemExit(main())
