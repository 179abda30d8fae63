"""An OpenAI-compatible server msm starts for one stage and stops after it (``eval.sampler=serve``).

Why: some harnesses only speak to a served model (inspect's ``openai-api`` provider, any tool built on the
OpenAI SDK), and a researcher should not have to start, point at and stop a server by hand for every model
of a sweep. ``transformers serve`` runs on the CPU as on a GPU and is already installed; it serves one
model folder, so a LoRA adapter is merged into a copy of its base first (:func:`servable`). The server is
pinned to that folder, which is also the model name it answers to; it listens on a free loopback port and
its log is kept beside the stage's work, so a server that will not start is reported with its own words.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from msm.errors import MsmError

START_TIMEOUT_S = 300.0


def servable(base: str, adapter: str | None, dest: Path, *, dtype: str, chat_template: str | None) -> Path:
    """A folder ``transformers serve`` can load: ``base`` itself when there is nothing to merge or replace,
    else the base with the adapter merged in and msm's chat template set, written to ``dest``."""
    if adapter is None and chat_template is None:
        return Path(base)
    from msm.models import load_model, load_tokenizer

    model = load_model(base, dtype=dtype, adapter=adapter, device="cpu")
    if adapter is not None:
        model = model.merge_and_unload()
    model.config.use_cache = True  # serving generates
    model.save_pretrained(dest)
    load_tokenizer(base, chat_template).save_pretrained(dest)
    return dest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def transformers_serve(model_dir: Path, *, device: str, log_path: Path, threads: int | None = None,
                       extra_args: Sequence[str] = ()) -> Iterator[str]:
    """``transformers serve`` pinned to ``model_dir`` for the ``with`` block (``extra_args`` appended to its
    command line, e.g. ``--continuous-batching``); yields its ``/v1`` base URL. Stopped (terminated, then
    killed) whatever happens inside the block."""
    import httpx

    cli = Path(sys.executable).parent / "transformers"
    port = _free_port()
    cmd = [str(cli), "serve", str(model_dir), "--device", device, "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", *extra_args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise MsmError(f"transformers serve exited with {proc.returncode} before it was ready: "
                               f"{_tail(log_path)} (log: {log_path})")
            if time.monotonic() > deadline:
                raise MsmError(f"transformers serve not ready after {START_TIMEOUT_S:.0f}s (log: {log_path})")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{root}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        yield f"{root}/v1"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)


def _tail(path: Path, n: int = 600) -> str:
    try:
        return " ".join(path.read_text(errors="replace")[-n:].split())
    except OSError:
        return "(no log)"
